import assert from 'node:assert/strict';
import { request } from '../helpers/http.js';
import type { TestKit } from '../helpers/kit.js';
import { payload, SseClient } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';

/** Publishes through the HTTP API on a new connection each time (any worker may take it). */
export async function publish(kit: TestKit, token: string, topic: string, data: unknown): Promise<{ id: string; worker: string }> {
  const res = await request(`${kit.url}/api/events/${topic}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(data),
  });
  assert.equal(res.status, 201, res.body);
  return { id: (JSON.parse(res.body) as { id: string }).id, worker: String(res.headers['x-worker']) };
}

/** Opens `count` streams on new connections and waits until each is subscribed (its `caught-up` arrived). */
export async function openStreams(kit: TestKit, topic: string, count: number, options: { reconnect?: boolean } = {}): Promise<SseClient[]> {
  const clients = Array.from({ length: count }, () => new SseClient(`${kit.url}/api/events/${topic}`, options));
  await Promise.all(clients.map((client) => client.opened()));
  await waitFor(`${count} streams subscribed`, () => clients.every((client) => client.events.some((e) => e.event === 'caught-up')));
  return clients;
}

/**
 * The fan-out case: `streams` clients spread over the workers; `events`
 * events published through random workers, `parallel` at a time. Every
 * stream must receive every event exactly once, in the same order, with the
 * data that was published.
 */
export async function checkFanout(kit: TestKit, token: string, topic: string, streams: number, events: number, parallel = 8): Promise<void> {
  const clients = await openStreams(kit, topic, streams);
  const workers = new Set(clients.map((client) => client.workers[0]));
  assert.ok(workers.size >= 2, `the streams landed on ${workers.size} worker(s): ${[...workers]}`);

  const published = new Map<string, number>();
  const publishers = new Set<string>();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < events) {
        const n = next++;
        const { id, worker } = await publish(kit, token, topic, { n });
        published.set(id, n);
        publishers.add(worker);
      }
    }),
  );
  assert.equal(published.size, events, 'every publish got its own id');
  assert.ok(publishers.size >= 2, 'events were published through more than one worker');

  const order = [...published.keys()].sort((a, b) => compareIds(a, b));
  await waitFor(`${streams} streams to receive ${events} events`, () => clients.every((client) => client.ids().length >= events), { timeoutMs: 60_000 });
  for (const [index, client] of clients.entries()) {
    assert.deepEqual(client.ids(), order, `stream ${index} on worker ${client.workers[0]}: every event once, in order`);
    for (const event of client.events.filter((e) => e.event === 'message')) {
      assert.deepEqual(payload(event), { n: published.get(event.id!) }, 'the data as published');
    }
    assert.equal(client.connections, 1, 'the stream stayed on its worker');
  }
  for (const client of clients) client.close();
}

/** Orders ids of either backend: numbers (files) or `<ms>-<seq>` (Redis). */
export function compareIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs - bMs || aSeq - bSeq;
}
