import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { KitError } from 'astro-cluster-kit/core';
import { loadJobs, parseDuration } from '../../apps/agents/src/scheduler/config.js';
import { cleanup } from '../../apps/agents/src/scheduler/jobs.js';
import { repoRoot } from '../helpers/kit.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'kit-scheduler-'));
function config(content: unknown): string {
  const file = path.join(dir, `scheduler-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(content));
  return file;
}

test('durations', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('14d'), 14 * 86_400_000);
  for (const bad of ['', '5', '1.5h', '-1s', '0s', '3w']) assert.equal(parseDuration(bad), undefined, bad);
});

test('the shipped scheduler.json has a heartbeat, a cleanup, an event-log prune and a log rotation job', async () => {
  const jobs = await loadJobs(path.join(repoRoot, 'apps', 'agents', 'scheduler.json'));
  assert.deepEqual(jobs.map((job) => job.type).sort(), ['cleanup', 'heartbeat', 'prune-events', 'rotate-logs']);
});

for (const [why, jobs] of [
  ['no jobs', []],
  ['an unknown type', [{ name: 'x', type: 'backup', every: '1h' }]],
  ['no interval', [{ name: 'x', type: 'heartbeat' }]],
  ['a cleanup that climbs out of LOGS_DIR', [{ name: 'x', type: 'cleanup', every: '1h', olderThan: '1d', paths: ['../etc/*'] }]],
  ['an absolute cleanup path', [{ name: 'x', type: 'cleanup', every: '1h', olderThan: '1d', paths: ['/tmp/*'] }]],
  ['a wildcard folder', [{ name: 'x', type: 'cleanup', every: '1h', olderThan: '1d', paths: ['*/x.log'] }]],
  ['a duplicate name', [{ name: 'x', type: 'heartbeat', every: '1s' }, { name: 'x', type: 'heartbeat', every: '2s' }]],
  ['a rotation without a size', [{ name: 'x', type: 'rotate-logs', every: '1m', keep: 3, paths: ['pm2/*.log'] }]],
  ['a rotation keeping none', [{ name: 'x', type: 'rotate-logs', every: '1m', maxSize: '1M', keep: 0, paths: ['pm2/*.log'] }]],
] as const) {
  test(`a scheduler config with ${why} is refused`, async () => {
    await assert.rejects(loadJobs(config({ jobs })), (error: unknown) => error instanceof KitError && error.code === 'KIT_SCHEDULER_CONFIG_INVALID');
  });
}

test('cleanup removes only old files matching its patterns, never folders or links', async () => {
  const logs = mkdtempSync(path.join(os.tmpdir(), 'kit-cleanup-'));
  mkdirSync(path.join(logs, 'agents', 'nested.log.1'), { recursive: true });
  mkdirSync(path.join(logs, 'bench'));
  const old = new Date(Date.now() - 30 * 86_400_000);
  const files = {
    'agents/a.log.1': old,
    'agents/a.log.2': new Date(),
    'agents/a.log': old,
    'bench/run.json': old,
    'other.log.1': old,
  };
  for (const [name, mtime] of Object.entries(files)) {
    writeFileSync(path.join(logs, name), 'x');
    utimesSync(path.join(logs, name), mtime, mtime);
  }
  // A link to a file outside LOGS_DIR: neither the link nor its target is removed.
  const outside = path.join(dir, 'precious.log.1');
  writeFileSync(outside, 'keep me');
  utimesSync(outside, old, old);
  symlinkSync(outside, path.join(logs, 'agents', 'link.log.1'));
  const [job] = await loadJobs(config({ jobs: [{ name: 'c', type: 'cleanup', every: '1h', olderThan: '7d', paths: ['agents/*.log.*', 'bench/*', 'missing/*'] }] }));
  assert.ok(job?.type === 'cleanup');
  const summary = await cleanup(job, logs);
  assert.match(summary, /^removed 2 file\(s\)/);
  assert.deepEqual(readdirSync(path.join(logs, 'agents')).sort(), ['a.log', 'a.log.2', 'link.log.1', 'nested.log.1']);
  assert.ok(readdirSync(dir).includes('precious.log.1'));
  assert.deepEqual(readdirSync(path.join(logs, 'bench')), []);
  assert.ok(readdirSync(logs).includes('other.log.1'));
});
