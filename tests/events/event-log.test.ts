import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { FileEventLog, RedisEventLog, type EventLog, type StoredEvent } from 'astro-cluster-kit/event-log';
import { repoRoot } from '../helpers/kit.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

// The event log library itself, on both backends, with real files and a real redis-server.
let redis: RedisServer | undefined;
const opened: EventLog[] = [];

after(async () => {
  for (const log of opened) await log.close();
  await redis?.stop();
});

const backends: [string, (retention: { count: number; maxAgeMs: number }) => Promise<EventLog>][] = [
  ['file', async (retention) => new FileEventLog(mkdtempSync(path.join(os.tmpdir(), 'kit-events-')), retention)],
  [
    'redis',
    async (retention) => {
      redis ??= await startRedis();
      return new RedisEventLog(redis.url, retention, `test${Math.random().toString(16).slice(2)}:`);
    },
  ],
];

for (const [name, open] of backends) {
  describe(`${name} backend`, () => {
    const make = async (retention = { count: 1000, maxAgeMs: 86_400_000 }) => {
      const log = await open(retention);
      opened.push(log);
      return log;
    };

    test('ids grow per topic; read after an id, from the start, or the latest few', async () => {
      const log = await make();
      const events: StoredEvent[] = [];
      for (let n = 0; n < 5; n++) events.push(await log.publish('alpha', { n }));
      await log.publish('beta', { other: true });
      const ids = events.map((e) => e.id);
      assert.deepEqual([...ids].sort(compare), ids, 'increasing');
      assert.equal(new Set(ids).size, 5);
      assert.deepEqual((await log.read('alpha', ids[1]!)).events.map((e) => e.data), [{ n: 2 }, { n: 3 }, { n: 4 }]);
      assert.deepEqual((await log.read('alpha', '0')).events.length, 5);
      assert.deepEqual((await log.latest('alpha', 2)).map((e) => e.data), [{ n: 3 }, { n: 4 }]);
      assert.equal(await log.latestId('alpha'), ids[4]);
      assert.equal(await log.latestId('empty'), '0');
      assert.equal(await log.exists('alpha'), true);
      assert.equal(await log.exists('empty'), false);
      assert.equal((await log.read('alpha', ids[4]!)).reset, false);
    });

    test('an id older than retention, or never given out, is a reset', async () => {
      const log = await make({ count: 100, maxAgeMs: 86_400_000 });
      const first = await log.publish('busy', { n: 0 });
      for (let n = 1; n < 400; n++) await log.publish('busy', { n });
      const read = await log.read('busy', first.id);
      assert.equal(read.reset, true, 'the events right after the first were dropped');
      assert.ok(read.oldest && compare(read.oldest, first.id) > 0);
      assert.ok(read.events.length >= 100 && read.events.length < 400, `kept ${read.events.length}`);
      assert.equal((await log.read('busy', name === 'file' ? '99999' : '99999999999999-0')).reset, true, 'an id from the future');
      assert.equal((await log.read('busy', 'garbage')).reset, true);
    });

    test('a subscriber gets its backlog then live events, each once, even when they race', async () => {
      const log = await make();
      for (let n = 0; n < 20; n++) await log.publish('race', { n });
      const start = (await log.read('race', '0')).events[4]!.id;
      const received: StoredEvent[] = [];
      let caughtUp = -1;
      const subscription = log.subscribe('race', { after: start, onEvent: (e) => received.push(e), onCaughtUp: (n) => (caughtUp = n) });
      // Published while the backlog is being read, concurrently (so in no particular order of n).
      await Promise.all(Array.from({ length: 20 }, (_, i) => log.publish('race', { n: 20 + i })));
      await waitFor('all 35 events', () => received.length >= 35);
      const stored = (await log.read('race', start)).events;
      assert.deepEqual(received.map((e) => e.id), stored.map((e) => e.id), 'the stored order, each id once');
      assert.deepEqual(received.map((e) => (e.data as { n: number }).n).sort((a, b) => a - b), Array.from({ length: 35 }, (_, i) => i + 5));
      assert.ok(caughtUp >= 15);
      subscription.close();
      assert.deepEqual(log.stats(), { topics: 0, subscriptions: 0 }, 'nothing left watching');
    });

    test('prune drops topics whose newest event is past the maximum age', async () => {
      const log = await make({ count: 1000, maxAgeMs: 1000 });
      await log.publish('fleeting', { n: 1 });
      assert.equal(await log.prune(), 0);
      await waitFor('the topic to expire and be pruned', async () => (await log.prune()) === 1, { timeoutMs: 10_000, intervalMs: 250 });
      assert.equal(await log.exists('fleeting'), false);
    });
  });
}

test('file backend: four processes publishing at once get distinct, gapless ids and whole lines', { timeout: 60_000 }, async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kit-events-'));
  const script = `
    import { FileEventLog } from 'astro-cluster-kit/event-log';
    const log = new FileEventLog(${JSON.stringify(root)}, { count: 100000, maxAgeMs: 86400000 });
    for (let n = 0; n < 100; n++) await log.publish('shared', { writer: process.pid, n });
  `;
  const run = promisify(execFile);
  await Promise.all(Array.from({ length: 4 }, () => run(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot })));
  const dir = path.join(root, 'shared');
  const lines = readdirSync(dir)
    .filter((file) => file.endsWith('.ndjson'))
    .sort()
    .flatMap((file) => readFileSync(path.join(dir, file), 'utf8').split('\n').filter(Boolean));
  const ids = lines.map((line) => (JSON.parse(line) as { id: number }).id);
  assert.deepEqual(ids, Array.from({ length: 400 }, (_, i) => i + 1));
});

test('file backend: a line cut short by a crash does not take the next event with it', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kit-events-'));
  const log = new FileEventLog(root, { count: 1000, maxAgeMs: 86_400_000 });
  opened.push(log);
  await log.publish('torn', { n: 1 });
  const segment = path.join(root, 'torn', readdirSync(path.join(root, 'torn')).find((file) => file.endsWith('.ndjson'))!);
  appendFileSync(segment, '{"id":2,"at":"2026-01-01T00:00:00.000Z","da');
  const next = await log.publish('torn', { n: 2 });
  assert.equal(next.id, '2', 'the cut line never counted');
  assert.deepEqual((await log.read('torn', '0')).events.map((e) => e.data), [{ n: 1 }, { n: 2 }]);
});

function compare(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs - bMs || aSeq - bSeq;
}
