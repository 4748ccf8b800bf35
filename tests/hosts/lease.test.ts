import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { isAlive, isZombie, readSettings } from 'astro-cluster-kit/core';
import { openEventLog, type EventLog } from 'astro-cluster-kit/event-log';
import { agentKits, agentScripts, agentState, readAgentLog, status } from '../helpers/agents.js';
import type { TestKit } from '../helpers/kit.js';
import { redisCommand, startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { withLogs } from './lease-logs.js';

// Two hosts, simulated on this machine (each its own LOGS_DIR, PM2_HOME and port), sharing one real
// redis-server: the scheduler runs on exactly one of them, and moves to the other within the lease time
// when its host's agents are SIGKILLed or SIGSTOPped. The lease is short here (2 s) to keep the test quick.
const leaseMs = 2000;
const everyMs = 500;
const kits = agentKits();
let redis: RedisServer;
let log: EventLog;
let a: TestKit;
let b: TestKit;

before(async () => {
  redis = await startRedis();
  const host = async (name: string) => {
    const kit = await kits({ EVENTS_BACKEND: 'redis', REDIS_URL: redis.url, LOCK_LEASE_MS: String(leaseMs), ASTRO_CLUSTER_HOST_NAME: name });
    writeFileSync(kit.env.SCHEDULER_CONFIG!, JSON.stringify({ jobs: [{ name: 'heartbeat', type: 'heartbeat', every: `${everyMs}ms` }] }));
    return kit;
  };
  a = await host('host-a');
  b = await host('host-b');
  log = openEventLog(readSettings({ ...a.env }));
});

after(async () => {
  // The kits' own cleanup (registered first) has stopped their processes by pid by now.
  await log?.close();
  await redis?.stop();
});

interface Heartbeat {
  at: number;
  pid: number;
}

/** Every heartbeat either host's scheduler reported, from the shared log, oldest first. */
async function heartbeats(): Promise<Heartbeat[]> {
  return (await log.latest('audit', 10_000))
    .filter((event) => {
      const data = event.data as { source?: string; kind?: string; job?: string };
      return data.source === 'scheduler-service' && data.kind === 'job' && data.job === 'heartbeat';
    })
    .map((event) => ({ at: Date.parse(event.at), pid: (event.data as { pid: number }).pid }));
}

const schedulers = () => [...a.processesRunning(agentScripts['scheduler-service']), ...b.processesRunning(agentScripts['scheduler-service'])];

/** The scheduler's command and its holder on `kit`, and that host's supervisor: what dies or freezes with the host. */
async function hostAgents(kit: TestKit): Promise<number[]> {
  const owner = kit.lockOwner('scheduler-service');
  const supervisor = (await status(kit)).supervisor.pid;
  return [owner?.child?.pid, owner?.pid, supervisor].filter((pid): pid is number => typeof pid === 'number');
}

/** Waits until a scheduler on `kit` other than `not` reports a heartbeat; returns its pid and when. */
async function takenOverBy(kit: TestKit, since: number, not: number): Promise<Heartbeat> {
  return waitFor(`a heartbeat from ${kit.env.ASTRO_CLUSTER_HOST_NAME}`, async () => {
    const [pid] = kit.processesRunning(agentScripts['scheduler-service']);
    if (pid === undefined || pid === not) return undefined;
    return (await heartbeats()).find((beat) => beat.pid === pid && beat.at >= since);
  }, { timeoutMs: 60_000 });
}

test('with Redis the scheduler runs on exactly one of two hosts; the other waits on standby', { timeout: 120_000 }, async () => {
  const startA = await a.run('mh', ['start', 'scheduler-service']);
  assert.equal(startA.code, 0, startA.output);
  const startB = await b.run('mh', ['start', 'scheduler-service']);
  assert.equal(startB.code, 0, startB.output);
  assert.match(startB.stdout, /scheduler-service on standby \(holder pid \d+\): runs on host host-a/);

  await waitFor('heartbeats from host a', async () => (await heartbeats()).length >= 3);
  assert.equal(schedulers().length, 1, 'one scheduler process across both hosts');
  const running = await agentState(a, 'scheduler-service');
  assert.equal(running.state, 'running');
  const standby = await agentState(b, 'scheduler-service');
  assert.equal(standby.state, 'standby');
  assert.equal(standby.pid, null);
  assert.match(standby.detail ?? '', /Redis lease, cluster-wide: runs on host host-a \(pid \d+, fence \d+\)/);
  const statusB = await status(b) as Awaited<ReturnType<typeof status>> & { locks: { kind: string; description: string } };
  assert.deepEqual([statusB.locks.kind, statusB.locks.description], ['redis-lease', 'Redis lease, cluster-wide']);
  const table = await b.run('mh', ['status']);
  assert.match(table.stdout, /locks: Redis lease, cluster-wide \(LOCK_LEASE_MS 2000\), over a file lock on this host/);
  assert.match(table.stdout, /scheduler-service\s+standby/);
  // The lease in Redis: a token, a fencing number, and the owner.
  assert.match(await redisCommand(redis.port, 'GET', 'kit:lease:scheduler-service'), /^\$\d+\r\n\d+ [0-9a-f]+ \{"host":"host-a"/);
});

test('SIGSTOP of the running host: the other takes over within the lease; resumed, the frozen one does not act and goes back to standby', { timeout: 120_000 }, async () => {
  const [command] = a.processesRunning(agentScripts['scheduler-service']);
  assert.ok(command, 'the scheduler runs on host a');
  const frozen = await hostAgents(a);
  const stoppedAt = Date.now();
  for (const pid of frozen) process.kill(pid, 'SIGSTOP');
  let beat: Heartbeat;
  try {
    beat = await takenOverBy(b, stoppedAt, command);
    console.log(`# SIGSTOP: host b's first heartbeat ${beat.at - stoppedAt} ms after host a froze (lease ${leaseMs} ms)`);
  } finally {
    for (const pid of frozen) process.kill(pid, 'SIGCONT');
  }
  await waitFor('the resumed command to be ended', () => !isAlive(command) || isZombie(command));
  await withLogs([a, b], 'scheduler-service', () => waitFor('host a back on standby', async () => (await agentState(a, 'scheduler-service')).state === 'standby', { timeoutMs: 60_000 }));
  assert.equal(schedulers().length, 1);
  // Resumed, it never reported a heartbeat again: its check before each unit found the lease gone.
  assert.ok(!(await heartbeats()).some((h) => h.pid === command && h.at >= beat.at), 'the frozen scheduler acted after the takeover');
  const lines = readAgentLog(a, 'scheduler-service');
  assert.ok(
    lines.some((l) => /cluster-wide lease lost|lock lost \(the cluster-wide lease is no longer ours/.test(l.text)),
    lines.map((l) => `${l.pid} ${l.text}`).join('\n'),
  );
});

test('SIGKILL of the running host: the other takes over within the lease', { timeout: 120_000 }, async () => {
  const [command] = b.processesRunning(agentScripts['scheduler-service']);
  assert.ok(command, 'the scheduler runs on host b');
  const killedAt = Date.now();
  for (const pid of await hostAgents(b)) process.kill(pid, 'SIGKILL');
  const beat = await withLogs([a, b], 'scheduler-service', () => takenOverBy(a, killedAt, command));
  console.log(`# SIGKILL: host a's first heartbeat ${beat.at - killedAt} ms after host b died (lease ${leaseMs} ms)`);
  assert.equal((await agentState(a, 'scheduler-service')).state, 'running');
  await waitFor('host b to have no scheduler left', () => schedulers().length === 1);
});

test('Redis unreachable (its process frozen): no host can confirm the lease, so the agent stops within it and both say why; back, one host runs it again', { timeout: 120_000 }, async () => {
  const [command] = schedulers();
  assert.ok(command, 'a scheduler runs');
  const frozenAt = Date.now();
  process.kill(redis.process.pid!, 'SIGSTOP');
  try {
    await waitFor('no scheduler left on either host', () => schedulers().length === 0, { timeoutMs: 60_000 });
    console.log(`# Redis frozen: the scheduler stopped ${Date.now() - frozenAt} ms later (lease ${leaseMs} ms)`);
    await waitFor('host a to wait for Redis', () => readAgentLog(a, 'scheduler-service').some((l) => l.at >= frozenAt && /^standby: Redis cannot be reached/.test(l.text)), { timeoutMs: 60_000 });
    const report = (await status(a)) as Awaited<ReturnType<typeof status>> & { locks: { problem?: string } };
    assert.match(report.locks.problem ?? '', /Redis cannot be reached/);
    const agent = report.agents.find((entry) => entry.name === 'scheduler-service')!;
    assert.equal(agent.state, 'standby');
    assert.match(agent.detail ?? '', /Redis cannot be reached/);
  } finally {
    process.kill(redis.process.pid!, 'SIGCONT');
  }
  const resumedAt = Date.now();
  await waitFor('a scheduler acting again', async () => (await heartbeats()).some((beat) => beat.at >= resumedAt), { timeoutMs: 60_000 });
  console.log(`# Redis back: a heartbeat again ${Date.now() - resumedAt} ms later`);
  assert.equal(schedulers().length, 1);
  assert.ok(!(await heartbeats()).some((beat) => beat.pid === command && beat.at >= frozenAt), 'the old scheduler did not report while Redis was away');
});

test('the heartbeat ran once per interval across both hosts, takeovers and an outage of Redis included', async () => {
  const beats = await heartbeats();
  assert.ok(beats.length >= 6, `only ${beats.length} heartbeats`);
  const pids = new Set(beats.map((beat) => beat.pid));
  assert.ok(pids.size >= 3, 'three schedulers took turns');
  for (const [index, beat] of beats.entries()) {
    const previous = beats[index - 1];
    // Never two in one interval: a second copy would report between its predecessor's beats.
    if (previous) assert.ok(beat.at - previous.at >= everyMs / 2, `heartbeats ${previous.pid}@${previous.at} and ${beat.pid}@${beat.at} within one interval`);
  }
});

test('an agents-only host stays listed on the others past its record\'s time to live (its supervisor refreshes it), runs no web cluster, and leaves the list on a clean stop', { timeout: 120_000 }, async () => {
  const ttlS = 3;
  const c = await kits({ EVENTS_BACKEND: 'redis', REDIS_URL: redis.url, LOCK_LEASE_MS: String(leaseMs), ASTRO_CLUSTER_HOST_NAME: 'host-c', ASTRO_CLUSTER_ROLES: 'agents', HOST_TTL_S: String(ttlS) });
  const started = await c.run('start-pm2');
  assert.equal(started.code, 0, started.output);
  assert.match(started.stdout, /host host-c: agents only/);
  const own = JSON.parse((await c.run('status', ['--json'])).stdout) as { web: { workers: unknown[] } };
  assert.deepEqual(own.web.workers, [], 'no web worker on an agents-only host');
  const listedAt = Date.now();

  interface Listed { name: string; roles: string[]; by: string; updatedAt: string }
  const hostC = async () => (JSON.parse((await a.run('status', ['--json'])).stdout) as { hosts: { list: Listed[] } }).hosts.list.find((host) => host.name === 'host-c');
  // Rewritten by the supervisor after anything the commands wrote would have expired: it keeps the host listed.
  const kept = await withLogs([c], 'supervisor', () => waitFor('the supervisor to keep host-c listed past its time to live', async () => {
    const record = await hostC();
    return record && record.by.startsWith('agents supervisor') && Date.parse(record.updatedAt) > listedAt + ttlS * 1000 ? record : undefined;
  }, { timeoutMs: 30_000, intervalMs: 500 }));
  assert.deepEqual(kept.roles, ['agents']);
  assert.match(await redisCommand(redis.port, 'TTL', 'kit:hosts:host-c'), new RegExp(`^:[1-${ttlS}]\\r\\n`));

  const stopped = await c.run('stop-pm2');
  assert.equal(stopped.code, 0, stopped.output);
  // Removed by the supervisor as it stopped, not left to expire.
  assert.equal(await redisCommand(redis.port, 'EXISTS', 'kit:hosts:host-c'), ':0\r\n');
  assert.equal(await hostC(), undefined);
});
