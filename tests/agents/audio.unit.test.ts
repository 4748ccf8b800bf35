import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { moveWithoutOverwrite } from '../../apps/agents/src/audio/move.js';
import { AudioOrganizer, datedFolder } from '../../apps/agents/src/audio/organizer.js';
import { detectAudio, looksComplete } from '../../apps/agents/src/audio/signature.js';
import { audioSamples, wav } from './audio-samples.js';

test('each audio format is recognised by its first bytes', () => {
  for (const [kind, bytes] of Object.entries(audioSamples)) assert.equal(detectAudio(bytes.subarray(0, 16)), kind, kind);
});

test('other content is not audio, whatever the name says', () => {
  for (const bytes of [
    Buffer.from('just some text, not a song'),
    Buffer.from('%PDF-1.7\n'),
    Buffer.from('RIFF\x10\x00\x00\x00AVI LIST', 'latin1'),
    Buffer.from('\x00\x00\x00\x18ftypisom', 'latin1'),
    Buffer.from([0xff, 0xd8, 0xff, 0xe0]), // JPEG
    Buffer.from([0xff, 0xfb, 0xf0, 0x00]), // MPEG sync with an invalid bitrate
    Buffer.alloc(0),
  ]) {
    assert.equal(detectAudio(bytes), undefined, JSON.stringify(bytes.toString('latin1')));
  }
});

test('a WAV is complete only once its RIFF size covers the file', () => {
  const whole = wav(1000);
  assert.equal(looksComplete('wav', whole.subarray(0, 16), whole.length), true);
  assert.equal(looksComplete('wav', whole.subarray(0, 16), whole.length - 100), false, 'shorter than its header says');
  const streaming = Buffer.from(whole);
  streaming.writeUInt32LE(0xffffffff, 4);
  assert.equal(looksComplete('wav', streaming.subarray(0, 16), streaming.length), false, 'placeholder size');
  assert.equal(looksComplete('mp3', audioSamples.mp3, 10), true);
});

test('a move never overwrites: a clash gets a numbered name, both files survive', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kit-move-'));
  mkdirSync(path.join(dir, 'in'));
  mkdirSync(path.join(dir, 'out'));
  writeFileSync(path.join(dir, 'out', 'take.wav'), 'already here');
  writeFileSync(path.join(dir, 'out', 'take (1).wav'), 'also here');
  writeFileSync(path.join(dir, 'in', 'take.wav'), 'new one');
  const target = await moveWithoutOverwrite(path.join(dir, 'in', 'take.wav'), path.join(dir, 'out'));
  assert.equal(path.basename(target), 'take (2).wav');
  assert.equal(readFileSync(target, 'utf8'), 'new one');
  assert.equal(readFileSync(path.join(dir, 'out', 'take.wav'), 'utf8'), 'already here');
  assert.equal(readFileSync(path.join(dir, 'out', 'take (1).wav'), 'utf8'), 'also here');
  assert.equal(existsSync(path.join(dir, 'in', 'take.wav')), false);
});

test('the organizer files settled audio by day, leaves other files, waits for unsettled and incomplete ones', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kit-organizer-'));
  const inbox = path.join(dir, 'inbox');
  const library = path.join(dir, 'library');
  mkdirSync(inbox);
  const lines: string[] = [];
  const organizer = new AudioOrganizer({ inbox, library, settleMs: 1000, log: (line) => lines.push(line) });
  const old = new Date('2026-03-04T12:00:00');
  const put = (name: string, bytes: Buffer, mtime = old) => {
    writeFileSync(path.join(inbox, name), bytes);
    utimesSync(path.join(inbox, name), mtime, mtime);
  };
  for (const [kind, bytes] of Object.entries(audioSamples)) put(`sample.${kind === 'm4a' ? 'm4a' : kind}`, bytes);
  put('notes.txt', Buffer.from('not audio'));
  put('mislabelled.mp3', Buffer.from('not audio either'));
  put('song-without-extension', audioSamples.flac);
  put('half.wav', wav(4000).subarray(0, 2000));
  put('fresh.wav', wav(100), new Date());
  put('download.mp3.part', audioSamples.mp3);

  assert.deepEqual(await organizer.pass(), [], 'the first look only notes sizes: nothing has been seen unchanged yet');
  const moved = await organizer.pass();
  const day = path.join(library, datedFolder(old.getTime()));
  assert.deepEqual(readdirSync(day).sort(), ['sample.flac', 'sample.m4a', 'sample.mp3', 'sample.ogg', 'sample.wav', 'song-without-extension']);
  assert.equal(moved.length, 6);
  assert.deepEqual(readdirSync(inbox).sort(), ['download.mp3.part', 'fresh.wav', 'half.wav', 'mislabelled.mp3', 'notes.txt']);
  assert.ok(lines.some((line) => /^moved sample\.wav \(wav, \d+ bytes\) to 2026\/03\/04\/sample\.wav$/.test(line)), lines.join('\n'));
  assert.ok(lines.some((line) => line === 'notes.txt: left in the inbox: not an audio file (by content)'));
  assert.ok(lines.some((line) => /^half\.wav: waiting: its WAV header says it is not complete yet$/.test(line)));

  // Reasons are logged once per file, not at every pass.
  const before = lines.length;
  await organizer.pass();
  assert.equal(lines.length, before);

  // The half-written WAV is moved once the writer finishes it.
  put('half.wav', wav(4000));
  await organizer.pass();
  await organizer.pass();
  assert.ok(readdirSync(day).includes('half.wav'));
});
