import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createWaker } from 'astro-cluster-kit/agents';
import { readSettings } from 'astro-cluster-kit/core';
import { enqueueTask, FileEventLog, openEventLog, taskQueueTopic, taskTopic, type EventLog, type StoredEvent } from 'astro-cluster-kit/event-log';
import { handleQueued, type QueueAgent } from '../../apps/agents/src/tasks/queue.js';
import { setAsideFile, type SetAsideRecord } from '../../apps/agents/src/tasks/set-aside.js';
import { agentKits, agentState, readAgentLog } from '../helpers/agents.js';
import type { TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

// One malformed message on the task queue used to crash the task-runner on
// every restart until the supervisor gave up. Now it is set aside and the
// queue goes on; an outage of the event log is waited out instead.
const kits = agentKits();

interface AuditData {
  source: string;
  kind: string;
  queueId?: string;
  task?: string | null;
  reason?: string;
}

const setAsideDir = (kit: TestKit) => path.join(kit.logsDir, 'run', 'kit-state', 'task-runner', 'set-aside');
const checkpointOf = (kit: TestKit) => (JSON.parse(readFileSync(path.join(kit.logsDir, 'run', 'kit-state', 'task-runner.json'), 'utf8')) as { after: string }).after;
const types = async (log: EventLog, topic: string) => (await log.read(topic, '0')).events.map((event) => (event.data as { type?: string } | null)?.type);
const setAsides = async (log: EventLog) =>
  (await log.latest('audit', 1000)).map((event) => event.data as AuditData).filter((entry) => entry.source === 'task-runner' && entry.kind === 'set-aside');

test('poison messages on the queue are set aside, the next task runs, and a restart neither repeats nor resets them', { timeout: 180_000 }, async () => {
  const kit = await kits({ TASK_STEP_MS: '0' });
  const started = await kit.run('mh', ['start', 'task-runner']);
  assert.equal(started.code, 0, started.output);
  const log = openEventLog(readSettings({ ...kit.env }));
  try {
    // A well-formed task whose topic cannot be written to (a file stands where its folder goes): it fails while the log works.
    const blocked = 'b10c4ed0b10c';
    const poison: unknown[] = [
      { type: 'queued', id: '../../x', prompt: 'p' },
      { type: 'queued', id: '0123456789ab', prompt: { not: 'text' } },
      { type: 'queued', id: 'fedcba987654', prompt: 'x'.repeat(100_000) },
      { type: 'queued', id: 'abc', prompt: '   ' },
      { type: 'queued', prompt: 'no id' },
      { type: 'started', by: 1 },
      null,
      'a string',
      ['an', 'array'],
      42,
      { type: 'queued', id: blocked, prompt: 'a task the log cannot take' },
    ];
    await log.publish(taskQueueTopic, { warm: 'up' }); // Makes the events folder, for the blocking file.
    writeFileSync(path.join(kit.logsDir, 'run', 'events', taskTopic(blocked)), 'not a folder');
    const poisonEvents: StoredEvent[] = [];
    for (const data of poison) poisonEvents.push(await log.publish(taskQueueTopic, data));
    const warmUp = (await log.read(taskQueueTopic, '0')).events[0]!;
    const good = await enqueueTask(log, 'a good task after the poison');
    const last = await log.latestId(taskQueueTopic);

    await waitFor('the good task to finish', async () => (await types(log, taskTopic(good.id))).includes('done'), { timeoutMs: 60_000 });
    const dones = await types(log, taskTopic(good.id));
    assert.deepEqual(dones.filter((type) => type === 'started' || type === 'done'), ['started', 'done']);

    const entries = await setAsides(log);
    for (const event of [warmUp, ...poisonEvents]) {
      assert.equal(entries.filter((entry) => entry.queueId === event.id).length, 1, `one set-aside entry for queue event ${event.id} (${JSON.stringify(event.data)?.slice(0, 60)})`);
      const record = JSON.parse(readFileSync(setAsideFile(setAsideDir(kit), event.id), 'utf8')) as SetAsideRecord;
      assert.deepEqual(record.event, event, 'the event is kept as read');
      assert.ok(record.reason && !Number.isNaN(Date.parse(record.at)));
    }
    assert.equal(entries.length, poison.length + 1, 'nothing else set aside');
    const reasonOf = (event: StoredEvent) => entries.find((entry) => entry.queueId === event.id)!.reason!;
    assert.match(reasonOf(poisonEvents[0]!), /task id/);
    assert.match(reasonOf(poisonEvents[1]!), /prompt is an object/);
    assert.match(reasonOf(poisonEvents[2]!), /100000 characters/);
    assert.match(reasonOf(poisonEvents[6]!), /data is null/);
    assert.match(reasonOf(poisonEvents[10]!), /failed 3 times in a row while the event log worked/);
    const retries = (await log.latest('audit', 1000)).map((event) => event.data as AuditData).filter((entry) => entry.kind === 'retry');
    assert.equal(retries.length, 3, 'the blocked task was tried three times');
    assert.ok(retries.every((entry) => entry.task === blocked));

    // A set-aside task whose id names a topic gets an end there, so a client streaming it stops waiting.
    for (const id of ['0123456789ab', 'fedcba987654', 'abc']) {
      const events = (await log.read(taskTopic(id), '0')).events.map((event) => event.data as { type: string; reason?: string });
      assert.equal(events.length, 1, taskTopic(id));
      assert.equal(events[0]!.type, 'failed');
      assert.match(events[0]!.reason!, /^set aside: /);
    }

    const runner = await agentState(kit, 'task-runner');
    assert.equal(runner.state, 'running');
    assert.equal(runner.restarts, 0);
    await waitFor('the checkpoint past the last message', () => checkpointOf(kit) === last);
    const pid = runner.pid;
    assert.ok(!readAgentLog(kit, 'task-runner').some((line) => line.text.startsWith('crashed')));

    // Stopped and started again: it goes on from the checkpoint.
    const mtimes = poisonEvents.map((event) => statSync(setAsideFile(setAsideDir(kit), event.id)).mtimeMs);
    const stopped = await kit.run('mh', ['stop', 'task-runner']);
    assert.equal(stopped.code, 0, stopped.output);
    const again = await kit.run('mh', ['start', 'task-runner']);
    assert.equal(again.code, 0, again.output);
    const restarted = await agentState(kit, 'task-runner');
    assert.notEqual(restarted.pid, pid);
    await waitFor('the new runner to take up the queue', () =>
      readAgentLog(kit, 'task-runner').some((line) => line.pid === restarted.pid && line.text === `waiting for tasks after queue id ${last}`),
    );
    const next = await enqueueTask(log, 'one more after the restart');
    await waitFor('the next task to finish', async () => (await types(log, taskTopic(next.id))).includes('done'), { timeoutMs: 60_000 });
    assert.equal((await setAsides(log)).length, entries.length, 'nothing set aside again');
    assert.deepEqual(poisonEvents.map((event) => statSync(setAsideFile(setAsideDir(kit), event.id)).mtimeMs), mtimes);
    assert.deepEqual(await types(log, taskTopic(good.id)), dones, 'the good task did not run again');
    const ran = readAgentLog(kit, 'task-runner').filter((line) => line.text.startsWith(`task ${good.id}:`));
    assert.deepEqual(ran.map((line) => line.text.replace(/ in \d+ ms$/, '')), [`task ${good.id}: done`]);
    assert.equal((await agentState(kit, 'task-runner')).state, 'running');
    assert.equal(checkpointOf(kit), await log.latestId(taskQueueTopic));
  } finally {
    await log.close();
  }
});

/** An event log that refuses everything while `down`, as Redis gone or a full disk would. */
function flakyLog(root: string): EventLog & { down: boolean } {
  const inner = new FileEventLog(root, { count: 10_000, maxAgeMs: 86_400_000 });
  const refuse = (what: string) => Promise.reject(Object.assign(new Error(`connect ECONNREFUSED (${what})`), { code: 'ECONNREFUSED' }));
  const log: EventLog & { down: boolean } = {
    backend: inner.backend,
    down: false,
    publish: (topic, data) => (log.down ? refuse(`publish ${topic}`) : inner.publish(topic, data)),
    read: (topic, after) => (log.down ? refuse(`read ${topic}`) : inner.read(topic, after)),
    latest: (topic, count) => inner.latest(topic, count),
    latestId: (topic) => inner.latestId(topic),
    exists: (topic) => inner.exists(topic),
    subscribe: (topic, options) => inner.subscribe(topic, options),
    prune: () => inner.prune(),
    stats: () => inner.stats(),
    close: () => inner.close(),
  };
  return log;
}

test('while the event log is down a good task is retried with a back-off, never set aside; a stop ends the wait', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kit-poison-'));
  try {
    const log = flakyLog(path.join(dir, 'events'));
    const lines: string[] = [];
    const controller = new AbortController();
    const checkpoints: string[] = [];
    const agent: QueueAgent = {
      name: 'task-runner',
      events: log,
      signal: controller.signal,
      log: (line) => lines.push(line),
      audit: async () => undefined,
      unit: (work) => work(),
      sleep: (ms) => createWaker(controller.signal).wait(ms),
    };
    const options = { setAsideDir: path.join(dir, 'set-aside'), stepMs: 0, checkpoint: async (id: string) => void checkpoints.push(id), backoffMs: () => 20 };
    const queued = await enqueueTask(log, 'survives an outage');
    const event = (await log.read(taskQueueTopic, '0')).events[0]!;

    log.down = true;
    const handling = handleQueued(agent, event, options);
    await waitFor('five retries', () => lines.filter((line) => line.includes('the event log is unreachable')).length >= 5);
    assert.deepEqual(checkpoints, []);
    log.down = false;
    assert.equal(await handling, true);
    assert.deepEqual(checkpoints, [event.id]);
    assert.ok((await types(log, taskTopic(queued.id))).includes('done'), 'the task ran once the log was back');
    assert.ok(!existsSync(options.setAsideDir), 'nothing set aside');

    // A poison message while the log is down: its set-aside waits too, and a stop leaves it for the next start.
    mkdirSync(options.setAsideDir, { recursive: true });
    const poison = await log.publish(taskQueueTopic, null);
    log.down = true;
    const waiting = handleQueued(agent, poison, options);
    await waitFor('a retry of the set-aside', () => lines.some((line) => line.startsWith(`setting queue event ${poison.id} aside failed`)));
    controller.abort();
    assert.equal(await waiting, false);
    assert.deepEqual(checkpoints, [event.id], 'the checkpoint stays before it');
    log.down = false;
    assert.equal((await log.latest('audit', 100)).filter((entry) => (entry.data as AuditData).kind === 'set-aside').length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
