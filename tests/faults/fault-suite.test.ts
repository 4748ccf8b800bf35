import assert from 'node:assert/strict';
import { appendFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import autocannon from 'autocannon';
import { isAlive } from 'astro-cluster-kit/core';
import { FileEventLog } from 'astro-cluster-kit/event-log';
import { request } from '../helpers/http.js';
import { TestKit } from '../helpers/kit.js';
import { readBacklog, SseClient } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';

// The fault suite: one 2-worker kit with its agents, three faults, and for
// each what was lost. A summary line per fault is printed at the end:
//   fault: <name> — lost <n> acknowledged events, <m> failed requests
// No acknowledged event (a publish answered 201 with its id) may be lost.
//   worker-sigkill   a worker SIGKILLed under keep-alive load (autocannon);
//                    requests on its sockets may fail (reported, not asserted);
//                    PM2 restarts it and the audit names SIGKILL.
//   daemon-sigkill   the PM2 daemon SIGKILLed while events are published and
//                    streamed; started again with bin/start-pm2; a subscriber
//                    resuming with Last-Event-ID gets each acknowledged event once;
//                    the pm2-monitor reports daemon-died.
//   damaged-segment  a garbage line appended to a topic's newest segment, then a
//                    publish: ids go on above the highest, readers from before get
//                    a reset, a live subscriber misses nothing published after.
// Two more faults have files of their own: a full disk under LOGS_DIR
// (tests/server/full-disk.test.ts) and a flood of event streams under a low
// open-file limit (tests/server/flood.test.ts).
let kit: TestKit;
let token: string;
const summary: { name: string; lost: number; failed: number; note: string }[] = [];

before(async () => {
  kit = await TestKit.create({ instances: 2, env: { MONITOR_PING_MS: '500', MONITOR_PING_MISSES: '3', MONITOR_SNAPSHOT_MS: '500' } });
  const started = await kit.run('start-pm2');
  assert.equal(started.code, 0, started.output);
  token = kit.token();
});

after(async () => {
  for (const line of summary) console.log(`fault: ${line.name} — lost ${line.lost} acknowledged events, ${line.failed} failed requests${line.note ? ` (${line.note})` : ''}`);
  await kit?.cleanup();
});

type AuditEntry = { source: string; kind: string; message: string };
async function audit(): Promise<AuditEntry[]> {
  const events = new FileEventLog(path.join(kit.logsDir, 'run', 'events'), { count: 100_000, maxAgeMs: 86_400_000 });
  return (await events.latest('audit', 500)).map((e) => e.data as AuditEntry);
}

/** One publish on a new connection: its id when acknowledged (201), undefined when it failed. */
async function tryPublish(topic: string, data: unknown): Promise<string | undefined> {
  try {
    const res = await request(`${kit.url}/api/events/${topic}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(data),
    });
    return res.status === 201 ? (JSON.parse(res.body) as { id: string }).id : undefined;
  } catch {
    return undefined;
  }
}

async function publish(topic: string, data: unknown): Promise<string> {
  const id = await tryPublish(topic, data);
  assert.ok(id, `publish on ${topic} was not acknowledged`);
  return id;
}

/** Acknowledged ids a client did not receive, and ids it received more than once. */
function compare(acknowledged: string[], received: string[]): { lost: string[]; twice: string[] } {
  const seen = new Map<string, number>();
  for (const id of received) seen.set(id, (seen.get(id) ?? 0) + 1);
  return { lost: acknowledged.filter((id) => !seen.has(id)), twice: [...seen].filter(([, n]) => n > 1).map(([id]) => id) };
}

test('worker-sigkill: a worker SIGKILLed under keep-alive load is restarted by PM2 and reported with its signal', { timeout: 90_000 }, async () => {
  const [victim, other] = await kit.onlineWorkers(2);
  const restartsBefore = victim!.pm2_env.restart_time;
  let responses = 0;
  let finish!: (result: autocannon.Result) => void;
  const finished = new Promise<autocannon.Result>((resolve) => (finish = resolve));
  const load = autocannon({ url: kit.url, connections: 8, duration: 8, requests: [{ path: '/' }, { path: '/healthz' }] }, (error, result) =>
    error ? assert.fail(error) : finish(result),
  );
  load.on('response', () => responses++);
  await waitFor('load to flow', () => responses > 200, { timeoutMs: 20_000 });
  process.kill(victim!.pid, 'SIGKILL');
  const result = await finished;
  const failed = result.errors + result.timeouts + result.non2xx;
  console.log(`# worker-sigkill: ${result.requests.total} requests, ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`);
  summary.push({ name: 'worker-sigkill', lost: 0, failed, note: `of ${result.requests.total} requests; resets on the killed worker's sockets are expected` });
  assert.ok(result.requests.total > 200, 'the load ran');

  // PM2 restarted it: two online workers again, the victim's slot restarted, the other untouched.
  const now = await kit.onlineWorkers(2, new Set([victim!.pid]));
  const slot = now.find((w) => w.pm_id === victim!.pm_id);
  assert.ok(slot && slot.pm2_env.restart_time > restartsBefore, 'PM2 restarted the killed worker');
  assert.ok(now.some((w) => w.pid === other!.pid), 'the other worker kept running');
  const heard = new Set<number>();
  await waitFor('both workers to answer /healthz', async () => {
    const res = await request(`${kit.url}/healthz`);
    if (res.status === 200) heard.add((JSON.parse(res.body) as { pid: number }).pid);
    return now.every((w) => heard.has(w.pid));
  });
  const entry = await waitFor('the exit audit entry naming SIGKILL', async () => (await audit()).find((e) => e.source === 'pm2-monitor' && e.kind === 'exit' && /SIGKILL/.test(e.message)), {
    timeoutMs: 30_000,
    intervalMs: 300,
  });
  assert.match(entry.message, /killed by signal SIGKILL/);
});

test('daemon-sigkill: the PM2 daemon SIGKILLed while events flow; after start-pm2 a resuming subscriber gets each acknowledged event once', { timeout: 150_000 }, async () => {
  const topic = 'fault-daemon';
  const subscriber = new SseClient(`${kit.url}/api/events/${topic}`, { reconnect: true });
  await subscriber.opened();
  await waitFor('the subscriber to be caught up', () => subscriber.events.some((e) => e.event === 'caught-up'));

  const acknowledged: string[] = [];
  for (let n = 1; n <= 100; n++) acknowledged.push(await publish(topic, { n }));
  await waitFor('the subscriber to have the first 100', () => subscriber.ids().length >= 100);

  const daemon = kit.daemonPid();
  assert.ok(daemon, 'the daemon runs');
  const workerPids = (await kit.onlineWorkers(2)).map((w) => w.pid);
  // Publishing goes on while the daemon dies: each event is retried until acknowledged, failures are counted.
  let failed = 0;
  const publisher = (async () => {
    for (let n = 101; n <= 200; n++) {
      const id = await waitFor(
        `event ${n} to be acknowledged`,
        async () => {
          const got = await tryPublish(topic, { n });
          if (!got) failed++;
          return got;
        },
        { timeoutMs: 120_000, intervalMs: 200 },
      );
      acknowledged.push(id);
    }
  })();
  await waitFor('publishing to go on', () => acknowledged.length >= 110, { timeoutMs: 30_000 });
  process.kill(daemon, 'SIGKILL');
  await waitFor('the daemon and its workers to be gone', () => !isAlive(daemon) && workerPids.every((pid) => !isAlive(pid)), { timeoutMs: 30_000 });
  const started = await kit.run('start-pm2');
  assert.equal(started.code, 0, started.output);
  await publisher;
  assert.equal(acknowledged.length, 200);

  await waitFor('the subscriber to resume and receive every acknowledged event', () => compare(acknowledged, subscriber.ids()).lost.length === 0, { timeoutMs: 60_000 }).catch(() => undefined);
  subscriber.close();
  const live = compare(acknowledged, subscriber.ids());
  // A reader from the start gets them all too, once each.
  const reader = await readBacklog(`${kit.url}/api/events/${topic}`, '0');
  const replay = compare(acknowledged, reader.ids());
  const extra = reader.ids().filter((id) => !acknowledged.includes(id)).length;
  console.log(`# daemon-sigkill: ${acknowledged.length} acknowledged, ${failed} failed publishes, subscriber: ${subscriber.connections} connections, ${subscriber.ids().length} events, lost ${live.lost.length}, twice ${live.twice.length}; replay: lost ${replay.lost.length}, twice ${replay.twice.length}, unacknowledged stored ${extra}`);
  summary.push({ name: 'daemon-sigkill', lost: Math.max(live.lost.length, replay.lost.length), failed, note: `${extra} stored without acknowledgement` });
  assert.deepEqual(live.lost, [], 'the resuming subscriber lost acknowledged events');
  assert.deepEqual(live.twice, [], 'the resuming subscriber got events twice');
  assert.deepEqual(replay.lost, []);
  assert.deepEqual(replay.twice, []);
  assert.ok(subscriber.connections >= 2, 'the subscriber reconnected');
  assert.ok(!subscriber.events.some((e) => e.event === 'reset'), 'no reset: nothing was missed');

  await waitFor('the daemon-died audit entry', async () => (await audit()).some((e) => e.source === 'pm2-monitor' && e.kind === 'daemon-died' && e.message.includes(`pid ${daemon}`)), {
    timeoutMs: 60_000,
    intervalMs: 300,
  });
});

test('damaged-segment: a garbage line in the newest segment; ids go on above the highest, readers from before get a reset, nothing published after is lost', { timeout: 90_000 }, async () => {
  const topic = 'fault-damaged';
  const before: string[] = [];
  for (let n = 1; n <= 5; n++) before.push(await publish(topic, { n }));
  assert.deepEqual(before, ['1', '2', '3', '4', '5']);
  const subscriber = new SseClient(`${kit.url}/api/events/${topic}`, { reconnect: true });
  await waitFor('the subscriber to be caught up', () => subscriber.events.some((e) => e.event === 'caught-up'));

  const dir = path.join(kit.logsDir, 'run', 'events', topic);
  const newest = readdirSync(dir).filter((file) => file.endsWith('.ndjson')).sort().at(-1);
  assert.ok(newest, readdirSync(dir).join(' '));
  appendFileSync(path.join(dir, newest), 'not an event\n');

  const afterDamage = [await publish(topic, { n: 6 }), await publish(topic, { n: 7 })];
  assert.deepEqual(afterDamage, ['6', '7'], 'no id given twice');
  assert.ok(readdirSync(dir).some((file) => /\.damaged-\d+$/.test(file)), `the segment is set aside: ${readdirSync(dir).join(' ')}`);

  await waitFor('the live subscriber to get what was published after the damage', () => compare(afterDamage, subscriber.ids()).lost.length === 0, { timeoutMs: 30_000 }).catch(() => undefined);
  subscriber.close();
  const live = compare(afterDamage, subscriber.ids());

  // A reader that had seen 3 missed 4 and 5 for good: it is told with a reset, then gets what is left.
  const fromThree = await readBacklog(`${kit.url}/api/events/${topic}`, '3');
  // One that had everything up to 5 missed nothing.
  const fromFive = await readBacklog(`${kit.url}/api/events/${topic}`, '5');
  const lost = Math.max(live.lost.length, compare(afterDamage, fromThree.ids()).lost.length, compare(afterDamage, fromFive.ids()).lost.length);
  console.log(`# damaged-segment: live subscriber ${subscriber.ids().join(',')}; from 3: ${fromThree.events.map((e) => e.event === 'message' ? e.id : e.event).join(',')}; from 5: ${fromFive.events.map((e) => e.event === 'message' ? e.id : e.event).join(',')}`);
  summary.push({ name: 'damaged-segment', lost, failed: 0, note: `the damaged segment (ids 1-5) set aside, readers from before it told with a reset` });

  assert.deepEqual(live.lost, [], 'the live subscriber lost events published after the damage');
  assert.deepEqual(live.twice, []);
  assert.ok(fromThree.events.some((e) => e.event === 'reset'), 'the reader from 3 is told it missed events');
  assert.deepEqual(fromThree.ids(), afterDamage);
  assert.ok(!fromFive.events.some((e) => e.event === 'reset'), 'the reader from 5 missed nothing');
  assert.deepEqual(fromFive.ids(), afterDamage);
});
