import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { getJson, request } from '../helpers/http.js';
import { TestKit } from '../helpers/kit.js';
import { redisCommand, startRedis, type RedisServer } from '../helpers/redis.js';
import { payload, SseClient } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';
import { checkFanout } from './fanout.js';

// The same cluster with EVENTS_BACKEND=redis: events in Redis Streams and sessions in Redis, as on several hosts.
let redis: RedisServer;
let kit: TestKit;
let token: string;

before(async () => {
  redis = await startRedis();
  kit = await TestKit.create({ instances: 2, env: { EVENTS_BACKEND: 'redis', REDIS_URL: redis.url, TASK_STEP_MS: '10' } });
  const started = await kit.run('start-pm2');
  assert.equal(started.code, 0, started.output);
  token = readFileSync(path.join(kit.logsDir, 'run', 'events.token'), 'utf8').trim();
});

after(async () => {
  await kit?.cleanup();
  await redis?.stop();
});

test('the workers use Redis Streams', async () => {
  const stats = await getJson<{ events: { backend: string } }>(`${kit.url}/api/stats`, kit.auth());
  assert.equal(stats.events.backend, 'redis');
});

test('fan-out on Redis: 50 streams over both workers each receive all 500 events, once and in order', { timeout: 180_000 }, async () => {
  await checkFanout(kit, token, 'fanout', 50, 500);
  assert.match(await redisCommand(redis.port, 'XLEN', 'kit:events:fanout'), /^:500\r\n/);
  assert.ok(!existsSync(path.join(kit.logsDir, 'run', 'events', 'fanout')), 'nothing written to the file backend');
});

test('tasks run by the agent and sessions kept in Redis work across workers', { timeout: 60_000 }, async () => {
  const posted = await request(`${kit.url}/api/tasks`, { method: 'POST', headers: { ...kit.auth(), 'Content-Type': 'application/json' }, body: '{"prompt":"redis please"}' });
  assert.equal(posted.status, 202);
  const client = new SseClient(`${kit.url}${(JSON.parse(posted.body) as { stream: string }).stream}`, { headers: kit.auth() });
  await waitFor('the task done', () => client.events.some((e) => e.event === 'done'));
  assert.match(payload<{ reply: string }>(client.events.find((e) => e.event === 'done')!).reply, /You wrote 2 words/);
  client.close();

  const first = await request(`${kit.url}/api/session/visits`, { method: 'POST', headers: { 'Content-Type': 'application/json' } });
  const cookie = String(first.headers['set-cookie']).split(';')[0]!;
  for (let i = 2; i <= 6; i++) {
    const next = await request(`${kit.url}/api/session/visits`, { method: 'POST', headers: { cookie, 'Content-Type': 'application/json' } });
    assert.equal((JSON.parse(next.body) as { visits: number }).visits, i, 'counted on whichever worker');
  }
  const sessionId = cookie.split('=')[1]!;
  assert.match(await redisCommand(redis.port, 'EXISTS', `kit:sessions:${sessionId}`), /^:1\r\n/);
  assert.ok(!existsSync(path.join(kit.logsDir, 'run', 'sessions')), 'no session files');
});
