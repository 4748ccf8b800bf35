import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { FileEventLog, RedisEventLog, type EventLog, type StoredEvent } from 'astro-cluster-kit/event-log';
import { repoRoot } from '../helpers/kit.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

// A publish wakes subscribers in other processes by design, not by a timer: the safety timer (file) and the
// XREAD round (Redis) are set to an hour here, so only the wake-up can deliver within the test's time.
const HOUR = 3_600_000;
const run = promisify(execFile);
const opened: EventLog[] = [];
let redis: RedisServer | undefined;

after(async () => {
  for (const log of opened) await log.close();
  await redis?.stop();
});

/** Publishes from a separate Node process, as an agent or a command would. */
async function publishElsewhere(open: string, topic: string, data: unknown): Promise<void> {
  const script = `
    import { FileEventLog, RedisEventLog } from 'astro-cluster-kit/event-log';
    const log = ${open};
    await log.publish(${JSON.stringify(topic)}, ${JSON.stringify(data)});
    await log.close();
  `;
  await run(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot });
}

function collect(log: EventLog, topic: string): { events: StoredEvent[]; caughtUp: Promise<void>; close(): void } {
  const events: StoredEvent[] = [];
  let ready!: () => void;
  const caughtUp = new Promise<void>((resolve) => (ready = resolve));
  const subscription = log.subscribe(topic, { after: '0', onEvent: (event) => events.push(event), onCaughtUp: () => ready() });
  return { events, caughtUp, close: () => subscription.close() };
}

test('file backend: an event from another process reaches a subscriber whose topic folder did not exist, with no timer', { timeout: 60_000 }, async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kit-events-'));
  const log = new FileEventLog(root, { count: 1000, maxAgeMs: 86_400_000 }, { safetyMs: HOUR });
  opened.push(log);
  const stream = collect(log, 'not-yet');
  await stream.caughtUp;
  assert.equal(existsSync(path.join(root, 'not-yet')), false, 'nobody has published to the topic yet');
  const open = `new FileEventLog(${JSON.stringify(root)}, { count: 1000, maxAgeMs: 86400000 })`;
  for (let n = 1; n <= 3; n++) {
    await publishElsewhere(open, 'not-yet', { n });
    await waitFor(`event ${n} from the other process`, () => stream.events.length === n);
  }
  assert.deepEqual(stream.events.map((e) => e.data), [{ n: 1 }, { n: 2 }, { n: 3 }]);
  assert.equal(log.lateReads, 0, 'the safety timer delivered nothing');
  stream.close();
});

test('file backend: a process that died without closing leaves a socket the next publisher removes', { timeout: 60_000 }, async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kit-events-'));
  const open = `new FileEventLog(${JSON.stringify(root)}, { count: 1000, maxAgeMs: 86400000 })`;
  // Subscribes, then is killed: its exit handler does not run.
  const script = `
    import { FileEventLog } from 'astro-cluster-kit/event-log';
    const log = ${open};
    log.subscribe('gone', { after: '0', onEvent() {}, onCaughtUp() { process.kill(process.pid, 'SIGKILL'); } });
    setInterval(() => {}, 1000);
  `;
  await run(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot }).catch(() => undefined);
  const sockets = () => readdirSync(path.join(root, '.wake')).filter((name) => name.endsWith('.sock'));
  assert.equal(sockets().length, 1, 'the dead subscriber left its socket');
  await publishElsewhere(open, 'gone', { n: 1 });
  assert.deepEqual(sockets(), [], 'the publisher found nobody there and removed it');
});

test('file backend: a folder path too long for a socket still wakes subscribers (through a link)', { timeout: 60_000 }, async () => {
  const root = path.join(mkdtempSync(path.join(os.tmpdir(), 'kit-events-')), 'x'.repeat(60), 'y'.repeat(60));
  const log = new FileEventLog(root, { count: 1000, maxAgeMs: 86_400_000 }, { safetyMs: HOUR });
  opened.push(log);
  const stream = collect(log, 'long');
  await stream.caughtUp;
  await publishElsewhere(`new FileEventLog(${JSON.stringify(root)}, { count: 1000, maxAgeMs: 86400000 })`, 'long', { n: 1 });
  await waitFor('the event through the linked socket', () => stream.events.length === 1);
  stream.close();
});

test('redis backend: a topic followed while XREAD blocks is read at once, not at the next round', { timeout: 60_000 }, async () => {
  redis = await startRedis();
  const prefix = `wake${Math.random().toString(16).slice(2)}:`;
  const log = new RedisEventLog(redis.url, { count: 1000, maxAgeMs: 86_400_000 }, prefix, HOUR);
  opened.push(log);
  const first = collect(log, 'first');
  await first.caughtUp; // the read loop now blocks (for an hour) on `first` alone
  const second = collect(log, 'second');
  await second.caughtUp;
  await publishElsewhere(`new RedisEventLog(${JSON.stringify(redis.url)}, { count: 1000, maxAgeMs: 86400000 }, ${JSON.stringify(prefix)})`, 'second', { n: 1 });
  await waitFor('the event on the topic followed second', () => second.events.length === 1);
  first.close();
  second.close();
});
