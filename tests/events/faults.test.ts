import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { getJson, request } from '../helpers/http.js';
import { TestKit } from '../helpers/kit.js';
import { payload, SseClient } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';
import { publish } from './fanout.js';

// Faults from clients and publishers that must not lose an event, against a
// real 2-worker cluster serving the reference site: a large backlog, a client
// that stops reading, event names that try to add SSE fields, deep JSON.
let kit: TestKit;
let token: string;

before(async () => {
  kit = await TestKit.started({ instances: 2, env: { TASK_STEP_MS: '20' } });
  token = kit.token();
});

after(async () => {
  await kit.cleanup();
});

const pad = 'x'.repeat(60_000);

test('a reconnect with 1.5 MB of missed events resumes all of them on one connection, on either worker', { timeout: 120_000 }, async () => {
  const sent: number[] = [];
  for (let n = 1; n <= 25; n++) {
    await publish(kit, token, 'big-backlog', { n, pad });
    sent.push(n);
  }
  const workers = new Set<string>();
  for (let attempt = 0; attempt < 8 && workers.size < 2; attempt++) {
    const client = new SseClient(`${kit.url}/api/events/big-backlog`, { headers: { 'Last-Event-ID': '0' } });
    await client.opened();
    await waitFor('the whole backlog, then caught-up', () => client.events.some((e) => e.event === 'caught-up'), { timeoutMs: 30_000 });
    const numbers = client.events.filter((e) => e.event === 'message').map((e) => (payload(e) as { n: number }).n);
    assert.deepEqual(numbers, sent);
    assert.equal(client.connections, 1);
    assert.ok(!client.events.some((e) => e.event === 'reset'));
    workers.add(client.workers[0]!);
    // Live events still follow the backlog.
    await publish(kit, token, 'big-backlog', { n: 26 + attempt, pad: 'live' });
    sent.push(26 + attempt);
    await waitFor('the live event', () => client.ids().length === sent.length);
    client.close();
    // One GET and one POST per attempt would keep landing on the same worker: shift the round-robin by one.
    await request(`${kit.url}/api/stats`);
  }
  assert.equal(workers.size, 2, 'served by both workers');
});

test('a client that stops reading is cut, and its stream released, while a reading one gets everything', { timeout: 180_000 }, async () => {
  // More than the loopback socket buffers hold, so the stalled stream's data has to wait in the worker.
  const count = 160;
  for (let n = 1; n <= count; n++) await publish(kit, token, 'stalled', { n, pad });
  let received = 0;
  const socket = net.connect(kit.port, '127.0.0.1');
  socket.write('GET /api/events/stalled HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nLast-Event-ID: 0\r\n\r\n');
  socket.once('data', (chunk) => {
    received += chunk.length;
    socket.pause(); // reads nothing more
  });
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  await waitFor('the first bytes', () => received > 0);
  const reader = new SseClient(`${kit.url}/api/events/stalled`, { headers: { 'Last-Event-ID': '0' } });
  await waitFor('the reader caught up', () => reader.events.some((e) => e.event === 'caught-up'), { timeoutMs: 60_000 });
  assert.equal(reader.ids().length, count);
  reader.close();
  // The stalled stream is released by the worker holding it: both report no stream left.
  const seen = new Map<number, { streams: number }>();
  await waitFor(
    'no stream left on either worker',
    async () => {
      const stats = await getJson<{ pid: number; streams: number }>(`${kit.url}/api/stats`, kit.auth());
      seen.set(stats.pid, stats);
      return seen.size >= 2 && [...seen.values()].every((s) => s.streams === 0);
    },
    { timeoutMs: 40_000, intervalMs: 250 },
  );
  // Once read, what it was sent ends: the connection was closed by the worker, not left open.
  socket.on('data', (chunk) => (received += chunk.length));
  socket.resume();
  await ended;
  assert.ok(received < count * pad.length, `${received} bytes before the cut`);
});

test('an event name that would add SSE fields is not written: the task stream sends a plain message', { timeout: 60_000 }, async () => {
  const id = 'abcdef012345';
  await publish(kit, token, `task-${id}`, { type: 'queued\ndata: injected\nid: 999', id, prompt: 'x' });
  await publish(kit, token, `task-${id}`, { type: 'progress:x', percent: 1, token: 'a' });
  await publish(kit, token, `task-${id}`, { type: 'done', reply: 'ok', words: 1, ms: 1 });
  // A task's stream is its owner's; the token may read any.
  const client = new SseClient(`${kit.url}/api/tasks/${id}/stream`, { headers: kit.auth() });
  await waitFor('the end of the task', () => client.events.some((e) => e.event === 'done'));
  const events = client.events.filter((e) => e.event !== 'caught-up');
  assert.deepEqual(events.map((e) => e.event), ['message', 'message', 'done']);
  assert.deepEqual(events.map((e) => e.id), ['1', '2', '3']);
  assert.equal((payload(events[0]!) as { type: string }).type, 'queued\ndata: injected\nid: 999');
  client.close();
});

test('JSON nested deeper than 64 levels is a 400, on publish and on tasks, and the log goes on', { timeout: 60_000 }, async () => {
  const deep = `${'['.repeat(30_000)}${']'.repeat(30_000)}`;
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  const published = await request(`${kit.url}/api/events/deep`, { method: 'POST', headers, body: deep });
  assert.equal(published.status, 400, published.body);
  const task = await request(`${kit.url}/api/tasks`, { method: 'POST', headers, body: `{"prompt":"hi","x":${deep}}` });
  assert.equal(task.status, 400, task.body);
  // 64 levels is still fine, and strings holding brackets do not count.
  const fine = `${'['.repeat(63)}"[[[[${'['.repeat(100)}"${']'.repeat(63)}`;
  const ok = await request(`${kit.url}/api/events/deep`, { method: 'POST', headers, body: fine });
  assert.equal(ok.status, 201, ok.body);
  const client = new SseClient(`${kit.url}/api/events/deep`, { headers: { 'Last-Event-ID': '0' } });
  await waitFor('the event', () => client.ids().length === 1);
  client.close();
});
