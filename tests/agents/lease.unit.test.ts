import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { leaseKeys, leftEnough, mustGiveUp, parseLease, refreshEveryMs, standbyPollMs } from 'astro-cluster-kit/agents';
import { readSettings } from 'astro-cluster-kit/core';
import { FileEventLog, taskTopic, type TaskEvent } from 'astro-cluster-kit/event-log';
import { composeReply } from '../../apps/agents/src/tasks/reply.js';
import { runTask } from '../../apps/agents/src/tasks/runner.js';

const owner = { host: 'host-a', pid: 42, logsDir: '/srv/a/logs', since: '2026-12-01T08:00:00.000Z' };

test('a lease value reads back as its fence, token and owner; anything else is no lease of the kit', () => {
  const value = `7 0123456789abcdef ${JSON.stringify(owner)}`;
  assert.deepEqual(parseLease('scheduler-service', value), { name: 'scheduler-service', fence: 7, token: '0123456789abcdef', owner, value });
  for (const bad of [null, undefined, '', 'pending', `x 0123456789abcdef ${JSON.stringify(owner)}`, '7 0123456789abcdef {"host":1}', '7 TOKEN {}', '7 0123456789abcdef {not json']) {
    assert.equal(parseLease('scheduler-service', bad), undefined, String(bad));
  }
  assert.deepEqual(leaseKeys('task-runner'), { lease: 'kit:lease:task-runner', fence: 'kit:fence:task-runner' });
});

test('timing of a lease: refreshed three times within it, asked for often on standby, given up before it can expire', () => {
  assert.equal(refreshEveryMs(10_000), 3333);
  assert.equal(standbyPollMs(10_000), 1000);
  assert.equal(standbyPollMs(2000), 400);
  // Confirmed until t=10000 with a 10 s lease: kept until 2 s before, given up from then on.
  assert.equal(mustGiveUp(7999, 10_000, 10_000), false);
  assert.equal(mustGiveUp(8000, 10_000, 10_000), true);
  assert.equal(mustGiveUp(12_000, 10_000, 10_000), true);
  // An agent acts only with more than a quarter of the lease left.
  assert.equal(leftEnough(2501, 10_000), true);
  assert.equal(leftEnough(2500, 10_000), false);
  assert.equal(leftEnough(-2, 10_000), false);
});

test('LOCK_LEASE_MS and TASK_CLAIM_IDLE_MS: defaults, and bounds checked with the other settings', () => {
  const settings = readSettings({ LOGS_DIR: '/tmp/x' }, os.tmpdir());
  assert.equal(settings.lockLeaseMs, 10_000);
  assert.equal(settings.taskClaimIdleMs, 30_000);
  assert.equal(settings.hostName, os.hostname());
  assert.equal(readSettings({ LOCK_LEASE_MS: '2000', ASTRO_CLUSTER_HOST_NAME: 'host-a' }, os.tmpdir()).lockLeaseMs, 2000);
  assert.throws(() => readSettings({ LOCK_LEASE_MS: '500' }, os.tmpdir()), /LOCK_LEASE_MS="500": expected a whole number from 1000 to 120000/);
  assert.throws(() => readSettings({ ASTRO_CLUSTER_HOST_NAME: 'a b' }, os.tmpdir()), /ASTRO_CLUSTER_HOST_NAME="a b"/);
});

test('a task cut off mid-way is reported and goes on from its next step, with the first runner\'s words; an ended one is skipped', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kit-resume-'));
  const log = new FileEventLog(dir, { count: 1000, maxAgeMs: 86_400_000 });
  try {
    const task = { id: '0123456789ab', prompt: 'resume me from where the last runner stopped' };
    const topic = taskTopic(task.id);
    const words = composeReply(task.prompt, 4242);
    await log.publish(topic, { type: 'queued', id: task.id, prompt: task.prompt } satisfies TaskEvent);
    await log.publish(topic, { type: 'started', by: 4242 } satisfies TaskEvent);
    for (const [index, token] of words.slice(0, 3).entries()) await log.publish(topic, { type: 'progress', percent: index, token } satisfies TaskEvent);

    let checks = 0;
    const result = await runTask(log, task, { stepMs: 0, beforeStep: async () => void checks++, reclaimed: { from: 'host-a:task-runner', deliveries: 2 } });
    assert.deepEqual(result, { id: task.id, outcome: 'reclaimed', step: 3 });
    const events = (await log.read(topic, '0')).events.map((event) => event.data as TaskEvent);
    assert.deepEqual(events[5], { type: 'reclaimed', by: process.pid, step: 3, from: 'host-a:task-runner' });
    const tokens = events.flatMap((event) => (event.type === 'progress' ? [event.token] : []));
    assert.deepEqual(tokens, words, 'each word once, in order');
    assert.equal((events.at(-1) as Extract<TaskEvent, { type: 'done' }>).reply, words.join(''));
    // Checked before the report, before each remaining step, and before the end.
    assert.equal(checks, 1 + (words.length - 3) + 1);

    assert.deepEqual(await runTask(log, task, { stepMs: 0 }), { id: task.id, outcome: 'skipped', step: 0 });
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
