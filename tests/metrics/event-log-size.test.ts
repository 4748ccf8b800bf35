import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { readSettings } from 'astro-cluster-kit/core';
import { openEventLog } from 'astro-cluster-kit/event-log';
import { eventLogSize } from 'astro-cluster-kit/metrics';
import { startRedis, type RedisServer } from '../helpers/redis.js';

// The event log's size as a scrape measures it, on both backends: a real log in a temp folder, a real redis-server.
let dir: string;
let redis: RedisServer;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kit-metrics-size-'));
  redis = await startRedis();
});

after(async () => {
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

for (const backend of ['file', 'redis'] as const) {
  test(`${backend}: events, bytes and topics kept`, { timeout: 60_000 }, async () => {
    const settings = readSettings({ LOGS_DIR: path.join(dir, backend), EVENTS_BACKEND: backend, ...(backend === 'redis' && { REDIS_URL: redis.url }) }, dir);
    const log = openEventLog(settings);
    try {
      const empty = await eventLogSize(settings, log);
      assert.deepEqual([empty.events, empty.topics], [0, 0]);
      for (let i = 0; i < 7; i++) await log.publish('alpha', { i, text: 'x'.repeat(100) });
      for (let i = 0; i < 3; i++) await log.publish('beta', { i });
      const size = await eventLogSize(settings, log);
      assert.equal(size.events, 10);
      assert.equal(size.topics, 2);
      assert.equal(size.skippedTopics, 0);
      assert.ok(size.bytes > 700, `${size.bytes} bytes`);
    } finally {
      await log.close();
    }
  });
}
