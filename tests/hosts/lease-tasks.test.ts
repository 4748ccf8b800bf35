import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isAlive, readSettings } from 'astro-cluster-kit/core';
import { enqueueTask, openEventLog, type EventLog, type TaskEvent } from 'astro-cluster-kit/event-log';
import { agentKits, agentScripts, agentState, status } from '../helpers/agents.js';
import type { TestKit } from '../helpers/kit.js';
import { redisCommand, startRedis, type RedisServer } from '../helpers/redis.js';
import { allTasksEnded, assertRanOnce, taskHistory } from '../helpers/tasks.js';
import { waitFor } from '../helpers/wait.js';
import { withLogs } from './lease-logs.js';

// Tasks exactly once across two hosts (simulated: each its own LOGS_DIR and PM2_HOME) sharing one real
// redis-server: the task-runner reads the queue through a consumer group, and a task whose runner's host
// is SIGKILLed mid-task is claimed again on the other host, reported, and finished without a step twice.
const kits = agentKits();
const leaseMs = 2000;
const claimIdleMs = 3000;
const count = 200;
let redis: RedisServer;
let a: TestKit;
let b: TestKit;
let logA: EventLog;
let logB: EventLog;

before(async () => {
  redis = await startRedis();
  const shared = { EVENTS_BACKEND: 'redis', REDIS_URL: redis.url, LOCK_LEASE_MS: String(leaseMs), TASK_CLAIM_IDLE_MS: String(claimIdleMs) };
  // Host a runs slowly, so that its runner can be killed mid-task; host b at full speed.
  a = await kits({ ...shared, ASTRO_CLUSTER_HOST_NAME: 'host-a', TASK_STEP_MS: '60' });
  b = await kits({ ...shared, ASTRO_CLUSTER_HOST_NAME: 'host-b', TASK_STEP_MS: '0' });
  logA = openEventLog(readSettings({ ...a.env }));
  logB = openEventLog(readSettings({ ...b.env }));
});

after(async () => {
  // The kits' own cleanup (registered first) has stopped their processes by pid by now.
  await logA?.close();
  await logB?.close();
  await redis?.stop();
});

const history = (id: string) => taskHistory(logA, id);

test(`${count} tasks queued on either host each run exactly once, one of them across a SIGKILL of its runner's host`, { timeout: 180_000 }, () =>
  withLogs([a, b], 'task-runner', async () => {
    assert.equal((await a.run('mh', ['start', 'task-runner'])).code, 0);
    const standby = await b.run('mh', ['start', 'task-runner']);
    assert.equal(standby.code, 0, standby.output);
    assert.match(standby.stdout, /task-runner on standby/);

    // The victim: started on host a, which dies after a few of its steps.
    const victim = await enqueueTask(logA, 'a task whose runner dies half way through it');
    await waitFor('a few steps of the victim on host a', async () => (await history(victim.id)).filter((e) => e.type === 'progress').length >= 3);
    const owner = a.lockOwner('task-runner')!;
    const runnerA = owner.child!.pid;
    const killedAt = Date.now();
    for (const pid of [runnerA, owner.pid, (await status(a)).supervisor.pid!]) process.kill(pid, 'SIGKILL');
    await waitFor('host a\'s runner to die', () => !isAlive(runnerA));

    // The rest, queued on either host while the lease moves.
    const ids: string[] = [victim.id];
    for (let i = 1; i < count; i++) ids.push((await enqueueTask(i % 2 === 0 ? logA : logB, `task number ${i} of ${count}`)).id);

    await waitFor('host b to take over', async () => (await agentState(b, 'task-runner')).state === 'running', { timeoutMs: 60_000 });
    console.log(`# host b's runner took over ${Date.now() - killedAt} ms after host a died (lease ${leaseMs} ms)`);
    // Host a back: on standby now, a second runner ready, never a second one acting.
    const back = await a.run('mh', ['start', 'task-runner']);
    assert.equal(back.code, 0, back.output);
    assert.match(back.stdout, /task-runner on standby/);

    const began = Date.now();
    await allTasksEnded(logA, ids, 150_000);
    console.log(`# ${count} tasks done ${Date.now() - began} ms after the takeover`);
    for (const id of ids) assertRanOnce(id, await history(id), id === victim.id);

    // The victim: claimed again from host a's consumer, by host b's runner, and reported on its stream and the audit topic.
    const victimEvents = await history(victim.id);
    const started = victimEvents.find((e) => e.type === 'started') as Extract<TaskEvent, { type: 'started' }>;
    const reclaimed = victimEvents.filter((e) => e.type === 'reclaimed') as Extract<TaskEvent, { type: 'reclaimed' }>[];
    assert.equal(started.by, runnerA);
    assert.equal(reclaimed.length, 1, JSON.stringify(victimEvents));
    assert.equal(reclaimed[0]!.from, 'host-a:task-runner');
    assert.ok(reclaimed[0]!.step >= 3);
    assert.deepEqual(b.processesRunning(agentScripts['task-runner']), [reclaimed[0]!.by]);
    const audit = (await logA.latest('audit', 5000)).map((e) => e.data as { source: string; kind: string; task?: string });
    assert.equal(audit.filter((e) => e.source === 'task-runner' && e.kind === 'reclaimed' && e.task === victim.id).length, 1);

    // Nothing left pending in the group: every task acknowledged once handled.
    assert.match(await redisCommand(redis.port, 'XPENDING', 'kit:events:tasks', 'task-runner'), /^\*4\r\n:0\r\n/);
    assert.equal(a.processesRunning(agentScripts['task-runner']).length + b.processesRunning(agentScripts['task-runner']).length, 1);
  }));
