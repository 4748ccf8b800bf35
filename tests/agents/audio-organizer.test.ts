import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { agentsKit, readAgentLog } from '../helpers/agents.js';
import type { TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';
import { audioSamples, wav } from './audio-samples.js';

// The audio-organizer agent as it runs: a real process watching a real inbox.
let kit: TestKit;

after(async () => {
  await kit?.cleanup();
});

test('audio dropped in the inbox is filed by day; other files stay; a file still being written waits', { timeout: 120_000 }, async () => {
  kit = await agentsKit({ AUDIO_SETTLE_MS: '300' });
  const inbox = path.join(kit.dir, 'inbox');
  const library = path.join(kit.dir, 'library');
  kit.env.AUDIO_INBOX = inbox;
  kit.env.AUDIO_LIBRARY = library;
  mkdirSync(inbox);
  assert.equal((await kit.run('mh', ['start', 'audio-organizer'])).code, 0);

  writeFileSync(path.join(inbox, 'voice-memo.m4a'), audioSamples.m4a);
  writeFileSync(path.join(inbox, 'track'), audioSamples.ogg);
  writeFileSync(path.join(inbox, 'readme.txt'), 'not audio');
  // A recording in progress: header first, the rest later.
  const recording = wav(20_000);
  writeFileSync(path.join(inbox, 'recording.wav'), recording.subarray(0, 4000));

  const filed = () => readdirSync(library, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort();
  await waitFor('the two audio files filed', () => existsSync(library) && filed().length === 2);
  assert.deepEqual(filed(), ['track', 'voice-memo.m4a']);
  const today = new Date();
  const day = path.join(library, String(today.getFullYear()), String(today.getMonth() + 1).padStart(2, '0'), String(today.getDate()).padStart(2, '0'));
  assert.ok(existsSync(path.join(day, 'track')), 'filed under today');
  await waitFor('the organizer to notice the incomplete recording', () => readAgentLog(kit, 'audio-organizer').some((l) => l.text.startsWith('recording.wav: waiting')));
  assert.ok(existsSync(path.join(inbox, 'recording.wav')), 'the half-written WAV stays');
  assert.ok(existsSync(path.join(inbox, 'readme.txt')));

  appendFileSync(path.join(inbox, 'recording.wav'), recording.subarray(4000));
  await waitFor('the finished recording filed', () => filed().includes('recording.wav'));

  // A second file of the same name never overwrites the first.
  writeFileSync(path.join(inbox, 'track'), audioSamples.flac);
  await waitFor('the namesake filed beside it', () => filed().includes('track (1)'));
  const log = readAgentLog(kit, 'audio-organizer').map((l) => l.text);
  for (const name of ['voice-memo.m4a', 'track', 'recording.wav']) assert.ok(log.some((line) => line.startsWith(`moved ${name} (`)), name);
  assert.ok(log.includes('readme.txt: left in the inbox: not an audio file (by content)'));
  assert.deepEqual(readdirSync(inbox), ['readme.txt']);
});
