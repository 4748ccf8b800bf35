import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { parseSize, rotateLogs } from 'astro-cluster-kit/logs';
import { TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

const kits: TestKit[] = [];
after(async () => {
  for (const kit of kits) await kit.cleanup();
});

/** Every numbered line of a log and its rotated files, oldest file first. */
function numbersIn(file: string): number[] {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const rotated = readdirSync(dir)
    .filter((name) => name.startsWith(`${base}.`) && /^\d+$/.test(name.slice(base.length + 1)))
    .sort((a, b) => Number(b.slice(base.length + 1)) - Number(a.slice(base.length + 1)));
  return [...rotated.map((name) => path.join(dir, name)), file]
    .filter((f) => existsSync(f))
    .flatMap((f) => readFileSync(f, 'utf8').split('\n'))
    .map((line) => /line (\d+)$/.exec(line)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number);
}

test('sizes', () => {
  assert.equal(parseSize('10M'), 10 * 1024 * 1024);
  assert.equal(parseSize('512K'), 512 * 1024);
  assert.equal(parseSize('2048'), 2048);
  for (const bad of ['', '10MB', '-1', '0', '1.5M']) assert.equal(parseSize(bad), undefined, bad);
});

test('files over the size are shifted NAME → NAME.1 → NAME.2, at most `keep` kept; smaller ones are left', async () => {
  const logs = mkdtempSync(path.join(os.tmpdir(), 'kit-rotate-'));
  mkdirSync(path.join(logs, 'agents'));
  const big = path.join(logs, 'agents', 'big.log');
  const small = path.join(logs, 'agents', 'small.log');
  writeFileSync(small, 'tiny\n');
  for (let round = 1; round <= 4; round++) {
    writeFileSync(big, `round ${round}\n`.repeat(200));
    const { rotated, stillOpen } = await rotateLogs({ logsDir: logs, patterns: ['agents/*.log'], maxBytes: 1024, keep: 2 });
    assert.deepEqual(rotated, [big]);
    assert.deepEqual(stillOpen, []);
  }
  assert.deepEqual(readdirSync(path.join(logs, 'agents')).sort(), ['big.log.1', 'big.log.2', 'small.log']);
  assert.match(readFileSync(`${big}.1`, 'utf8'), /^round 4/);
  assert.match(readFileSync(`${big}.2`, 'utf8'), /^round 3/);
});

test('a writer appending line by line (as agents do) loses no line however often the log rotates', { timeout: 60_000 }, async () => {
  const logs = mkdtempSync(path.join(os.tmpdir(), 'kit-rotate-'));
  mkdirSync(path.join(logs, 'agents'));
  const file = path.join(logs, 'agents', 'busy.log');
  // The writer appends until its stdin closes, so the test decides how many rotations it sees.
  const writer = spawn(process.execPath, ['-e', `const fs = require('fs'); let n = 0, open = true; process.stdin.on('end', () => (open = false)).resume(); (function burst() { for (let i = 0; i < 200 && open; i++) fs.appendFileSync(${JSON.stringify(file)}, 'line ' + ++n + '\\n'); if (open) setImmediate(burst); })();`], { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = new Promise((resolve) => writer.once('exit', resolve));
  let rotations = 0;
  const deadline = Date.now() + 45_000;
  while (rotations < 25 && Date.now() < deadline) rotations += (await rotateLogs({ logsDir: logs, patterns: ['agents/*.log'], maxBytes: 512, keep: 100_000 })).rotated.length;
  writer.stdin.end();
  await exited;
  assert.ok(rotations >= 25, `${rotations} rotations`);
  const lines = numbersIn(file);
  assert.ok(lines.length > 0);
  assert.deepEqual(lines, Array.from({ length: lines.length }, (_, i) => i + 1));
});

test('PM2 logs: the scheduler rotates them, the workers reopen, no line is lost and nothing writes to a rotated file', { timeout: 180_000 }, async () => {
  const kit = await TestKit.create({ instances: 1 });
  kits.push(kit);
  mkdirSync(path.join(kit.logsDir, 'pm2'), { recursive: true });
  const out = path.join(kit.logsDir, 'pm2', 'printer-out.log');
  // A cluster-mode app under the kit's PM2 daemon, writing numbered lines through PM2's log files.
  const printer = path.join(kit.dir, 'printer.js');
  writeFileSync(printer, "let n = 0; const timer = setInterval(() => { console.log('line ' + ++n); if (n === 600) clearInterval(timer); }, 10);\n");
  const started = await kit.pm2(['start', printer, '--name', 'printer', '-i', '1', '--output', out, '--error', path.join(kit.logsDir, 'pm2', 'printer-error.log'), '--merge-logs', '--no-autorestart']);
  assert.equal(started.code, 0, started.output);

  const scheduler = path.join(kit.dir, 'scheduler.json');
  writeFileSync(scheduler, JSON.stringify({ jobs: [{ name: 'rotate', type: 'rotate-logs', every: '300ms', maxSize: '2K', keep: 100, paths: ['pm2/*.log', 'agents/*.log'] }] }));
  kit.env.SCHEDULER_CONFIG = scheduler;
  assert.equal((await kit.run('mh', ['start', 'scheduler-service'])).code, 0);

  await waitFor('all 600 lines written', () => numbersIn(out).length >= 600, { timeoutMs: 60_000 });
  assert.deepEqual(numbersIn(out), Array.from({ length: 600 }, (_, i) => i + 1), 'every line once, in order, across the rotated files');
  assert.ok(existsSync(`${out}.2`), 'rotated more than once');
  const log = readFileSync(path.join(kit.logsDir, 'agents', 'scheduler-service.log'), 'utf8');
  assert.match(log, /rotated \d+ file\(s\): pm2\/printer-out\.log/);
  assert.doesNotMatch(log, /still write to a rotated file/);
  // The printer writes to the fresh file: it holds no rotated one open.
  const pid = (await kit.list()).find((entry) => entry.name === 'printer')!.pid;
  const targets = readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return '';
    }
  });
  assert.ok(targets.includes(out), 'it writes to printer-out.log');
  assert.ok(!targets.some((target) => /\.log\.\d+$/.test(target)), `open: ${targets.filter((t) => t.includes('.log')).join(', ')}`);
});
