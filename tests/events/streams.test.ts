import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import autocannon from 'autocannon';
import { getJson, request } from '../helpers/http.js';
import { repoRoot, TestKit } from '../helpers/kit.js';
import { payload, SseClient } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';
import { checkFanout, openStreams, publish } from './fanout.js';

// The SSE-stickiness suite, against a real 2-worker cluster with the file
// event log: no stream may depend on which worker serves it.
let kit: TestKit;
let token: string;
let held: SseClient;
let heldSince: number;

interface Stats {
  pid: number;
  instance: number;
  streams: number;
  events: { topics: number; subscriptions: number };
}

before(async () => {
  kit = await TestKit.create({ instances: 2, env: { TASK_STEP_MS: '20' } });
  const started = await kit.run('start-pm2');
  assert.equal(started.code, 0, started.output);
  token = readFileSync(path.join(kit.logsDir, 'run', 'events.token'), 'utf8').trim();
  // Held open through most of this file, then checked last but one.
  held = (await openStreams(kit, 'held', 1))[0]!;
  heldSince = Date.now();
  await publish(kit, token, 'held', { when: 'start' });
});

after(async () => {
  held?.close();
  await kit.cleanup();
});

test('50 streams over both workers each receive all 500 events published through random workers, once and in order', { timeout: 180_000 }, async () => {
  await checkFanout(kit, token, 'fanout', 50, 500);
});

test('a reconnection with Last-Event-ID on the other worker fills exactly the gap', { timeout: 60_000 }, async () => {
  const first = new SseClient(`${kit.url}/api/events/gap`);
  await first.opened();
  await waitFor('subscribed', () => first.events.some((e) => e.event === 'caught-up'));
  for (let n = 1; n <= 5; n++) await publish(kit, token, 'gap', { n });
  await waitFor('the first five', () => first.ids().length === 5);
  const lastSeen = first.ids().at(-1)!;
  first.close();
  for (let n = 6; n <= 10; n++) await publish(kit, token, 'gap', { n });

  // Reconnect until the connection lands on the other worker.
  let second: SseClient | undefined;
  await waitFor('a connection on the other worker', async () => {
    const candidate = new SseClient(`${kit.url}/api/events/gap`, { headers: { 'Last-Event-ID': lastSeen } });
    await candidate.opened();
    if (candidate.workers[0] !== first.workers[0]) return (second = candidate);
    candidate.close();
    return undefined;
  });
  await waitFor('the gap', () => second!.ids().length === 5);
  await publish(kit, token, 'gap', { n: 11 });
  await waitFor('the next live one', () => second!.ids().length === 6);
  assert.deepEqual(second!.events.filter((e) => e.event === 'message').map((e) => (payload(e) as { n: number }).n), [6, 7, 8, 9, 10, 11]);
  assert.ok(!second!.events.some((e) => e.event === 'reset'));
  second!.close();
});

test('an id older than what is kept, or unknown, gets an explicit reset and the events kept', { timeout: 30_000 }, async () => {
  await publish(kit, token, 'resets', { n: 1 });
  for (const id of ['999999', 'not-an-id']) {
    const client = new SseClient(`${kit.url}/api/events/resets`, { headers: { 'Last-Event-ID': id } });
    await waitFor('caught up', () => client.events.some((e) => e.event === 'caught-up'));
    const reset = client.events.find((e) => e.event === 'reset');
    assert.ok(reset, `a reset for ${id}`);
    assert.deepEqual(JSON.parse(reset.data), { requested: id, oldest: '1' });
    assert.deepEqual(client.ids(), ['1']);
    client.close();
  }
});

test('a task streamed from another worker than the one it was posted to: before, during and after its run', { timeout: 120_000 }, async () => {
  const posted = await request(`${kit.url}/api/tasks`, { method: 'POST', headers: { ...kit.auth(), 'Content-Type': 'application/json' }, body: JSON.stringify({ prompt: 'how does a reload lose no request' }) });
  assert.equal(posted.status, 202, posted.body);
  const { id, stream } = JSON.parse(posted.body) as { id: string; stream: string };
  assert.equal(stream, `/api/tasks/${id}/stream`);
  const postedOn = String(posted.headers['x-worker']);

  const onOtherWorker = async () => {
    let client: SseClient | undefined;
    await waitFor('a stream on the other worker', async () => {
      const candidate = new SseClient(`${kit.url}${stream}`, { headers: kit.auth() });
      await candidate.opened();
      if (candidate.workers[0] !== postedOn) return (client = candidate);
      candidate.close();
      return undefined;
    });
    return client!;
  };
  const early = await onOtherWorker();
  await waitFor('progress', () => early.events.some((e) => e.event === 'progress'));
  const during = await onOtherWorker();
  await waitFor('done', () => early.events.some((e) => e.event === 'done'));
  const late = await onOtherWorker();
  await waitFor('the late stream to finish', () => late.closed || late.events.some((e) => e.event === 'done'));
  await waitFor('the during stream to finish', () => during.events.some((e) => e.event === 'done'));

  for (const client of [early, during, late]) {
    const kinds = client.events.filter((e) => e.id !== undefined).map((e) => e.event);
    assert.equal(kinds[0], 'queued');
    assert.equal(kinds[1], 'started');
    assert.equal(kinds.at(-1), 'done');
    assert.ok(kinds.slice(2, -1).every((kind) => kind === 'progress'));
    const tokens = client.events.filter((e) => e.event === 'progress').map((e) => payload<{ token: string }>(e).token).join('');
    const done = payload<{ reply: string }>(client.events.find((e) => e.event === 'done')!);
    assert.equal(tokens, done.reply, 'the streamed tokens make the reply');
    assert.match(done.reply, /You wrote 7 words/);
  }
  assert.deepEqual(during.ids(), early.ids(), 'a stream opened midway replays from the start');

  // After the end, a reconnect with the last id gets 204: EventSource stops.
  const doneId = early.events.find((e) => e.event === 'done')!.id!;
  const again = await request(`${kit.url}${stream}`, { headers: { ...kit.auth(), 'Last-Event-ID': doneId } });
  assert.equal(again.status, 204);
  assert.equal((await request(`${kit.url}/api/tasks/0123456789ab/stream`, { headers: kit.auth() })).status, 404);
});

test('ten tasks posted at once through both workers: each runs exactly once, by the one task-runner', { timeout: 120_000 }, async () => {
  const posts = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      request(`${kit.url}/api/tasks`, { method: 'POST', headers: { ...kit.auth(), 'Content-Type': 'application/json' }, body: JSON.stringify({ prompt: `task number ${i}` }) }),
    ),
  );
  assert.ok(posts.every((post) => post.status === 202));
  assert.equal(new Set(posts.map((post) => post.headers['x-worker'])).size, 2);
  const runners = new Set<number>();
  for (const post of posts) {
    const { stream } = JSON.parse(post.body) as { stream: string };
    const client = new SseClient(`${kit.url}${stream}`, { headers: kit.auth() });
    await waitFor('the task to finish', () => client.events.some((e) => e.event === 'done'));
    const started = client.events.filter((e) => e.event === 'started');
    assert.equal(started.length, 1, 'started once');
    assert.equal(client.events.filter((e) => e.event === 'done').length, 1, 'done once');
    runners.add(payload<{ by: number }>(started[0]!).by);
    client.close();
  }
  assert.equal(runners.size, 1, 'one runner for the whole cluster');
  const runnerLog = readFileSync(path.join(kit.logsDir, 'agents', 'task-runner.log'), 'utf8');
  for (const post of posts) {
    const { id } = JSON.parse(post.body) as { id: string };
    assert.equal(runnerLog.split('\n').filter((line) => line.includes(`task ${id}: done`)).length, 1, `task ${id} ran once`);
  }
});

test('2 workers × 1000 concurrent updates of one session: no torn read, no 5xx', { timeout: 120_000 }, async () => {
  const first = await request(`${kit.url}/api/session/visits`, { method: 'POST', headers: { 'Content-Type': 'application/json' } });
  const cookie = String(first.headers['set-cookie']).split(';')[0]!;
  assert.match(cookie, /^kit-session=/);
  assert.match(String(first.headers['set-cookie']), /HttpOnly/);
  assert.match(String(first.headers['set-cookie']), /SameSite=Lax/i);
  // Signing in through the form makes the stored session larger: a torn read would show.
  const signIn = await request(`${kit.url}/session`, {
    method: 'POST',
    headers: { cookie, Origin: `http://127.0.0.1:${kit.port}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: `name=${'n'.repeat(60)}`,
  });
  assert.equal(signIn.status, 303);
  // Signing in gives the session a new id (no fixation): the requests go on with that one.
  const signedIn = String(signIn.headers['set-cookie'] ?? '').split(';')[0]!;
  assert.match(signedIn, /^kit-session=/);
  assert.notEqual(signedIn, cookie);

  const visits: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    autocannon(
      {
        url: `${kit.url}/api/session/visits`,
        method: 'POST',
        headers: { cookie: signedIn, 'content-type': 'application/json' },
        connections: 50,
        amount: 2000,
        setupClient: (client) => client.on('body', (body: Buffer) => visits.push((JSON.parse(body.toString()) as { visits: number }).visits)),
      },
      (error, outcome) => (error ? reject(error) : resolve(outcome)),
    );
  });
  assert.equal(result.errors, 0);
  assert.equal(result.non2xx, 0, `${result.non2xx} non-2xx answers`);
  assert.equal(visits.length, 2000);
  // The session already held visits=1: a read of a half-written (or emptied) session file would start again from 1.
  assert.ok(visits.every((n) => Number.isInteger(n) && n >= 2), `${visits.filter((n) => n < 2).length} responses read an empty or torn session`);
  const page = await request(`${kit.url}/session`, { headers: { cookie: signedIn } });
  assert.match(page.body, new RegExp(`data-testid="name">${'n'.repeat(60)}<`), 'still signed in');
  const errors = readFileSync(path.join(kit.logsDir, 'pm2', 'astro-web-error.log'), 'utf8');
  assert.doesNotMatch(errors, /could not be parsed|Unexpected end of JSON|SyntaxError/);
});

test('the session cookie gets Secure behind HTTPS (a proxy on this machine saying so), not over plain HTTP', async () => {
  const plain = await request(`${kit.url}/api/session/visits`, { method: 'POST', headers: { 'Content-Type': 'application/json' } });
  assert.doesNotMatch(String(plain.headers['set-cookie']), /Secure/);
  const proxied = await request(`${kit.url}/api/session/visits`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Forwarded-Proto': 'https', Origin: `https://127.0.0.1:${kit.port}` },
  });
  assert.equal(proxied.status, 200, proxied.body);
  assert.match(String(proxied.headers['set-cookie']), /; Secure/);
});

test('every bad input is answered as specified, and no worker restarts', { timeout: 60_000 }, async () => {
  const restarts = (await kit.workers()).map((w) => `${w.pm_id}:${w.pm2_env.restart_time}`);
  const auth = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  const cases: [string, Parameters<typeof request>[1], number][] = [
    ['/api/events/audit', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }, 401],
    ['/api/events/audit', { method: 'POST', headers: { Authorization: 'Bearer wrong-token-of-some-length', 'Content-Type': 'application/json' }, body: '{}' }, 401],
    // A form-like post from another site never reaches the endpoint: Astro's own CSRF check answers first.
    ['/api/tasks', { method: 'POST', headers: { 'Content-Type': 'text/plain', Origin: 'https://elsewhere.example' }, body: '{"prompt": "x"}' }, 403],
    ['/api/events/audit', { method: 'POST', headers: auth, body: JSON.stringify({ big: 'x'.repeat(70 * 1024) }) }, 413],
    ['/api/events/audit', { method: 'POST', headers: auth, body: '{"unterminated": ' }, 400],
    ['/api/events/Not_A_Topic', { method: 'POST', headers: auth, body: '{}' }, 400],
    [`/api/events/${'x'.repeat(65)}`, { method: 'POST', headers: auth, body: '{}' }, 400],
    ['/api/events/Not_A_Topic', {}, 400],
    ['/api/events/audit', { method: 'DELETE', headers: { 'Content-Type': 'application/json' } }, 405],
    ['/api/tasks', { method: 'POST', headers: auth, body: '{"prompt": ""}' }, 400],
    ['/api/tasks', { method: 'POST', headers: auth, body: 'nope' }, 400],
    ['/api/tasks', {}, 405],
    ['/api/tasks/not-an-id/stream', { headers: auth }, 400],
    ['/api/tasks/0123456789ab/stream', { headers: auth }, 404],
    ['/%E0%A4%A', {}, 400],
  ];
  for (const [url, options, status] of cases) {
    const res = await request(`${kit.url}${url}`, options);
    assert.equal(res.status, status, `${options?.method ?? 'GET'} ${url.slice(0, 40)}: ${res.body.slice(0, 120)}`);
  }
  assert.deepEqual((await kit.workers()).map((w) => `${w.pm_id}:${w.pm2_env.restart_time}`), restarts);
});

test('an event stream leaves the HTTP server once its head is out: a close-delimited body on the bare socket, which hears the client leave', { timeout: 60_000 }, async () => {
  const socket = net.connect(kit.port, '127.0.0.1');
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.write(`GET /api/events/detached HTTP/1.1\r\nHost: 127.0.0.1:${kit.port}\r\nAccept: text/event-stream\r\n\r\n`);
  await waitFor('the head and the first frame', () => text.includes('\r\n\r\n') && text.includes(': worker '));
  const head = text.slice(0, text.indexOf('\r\n\r\n')).toLowerCase();
  assert.match(head, /^http\/1\.1 200 /);
  // No client may reuse the connection, and nothing is framed: the stream's socket is written directly.
  assert.match(head, /\r\nconnection: close(\r\n|$)/);
  assert.doesNotMatch(head, /transfer-encoding/);
  const { id } = await publish(kit, token, 'detached', { n: 1 });
  await waitFor('the event, as is', () => text.includes(`id: ${id}\ndata: {"at":`) && text.includes('"data":{"n":1}}\n\n'));
  // The client half-closes: the worker hears it and closes the stream (its subscription is checked gone below).
  socket.end();
  await waitFor('the worker to close the connection', () => socket.destroyed || socket.readableEnded);
  socket.destroy();
});

test('no subscription or stream is left behind once clients go', { timeout: 60_000 }, async () => {
  const heldWorker = held.workers[0];
  const seen = new Map<number, Stats>();
  await waitFor('both workers down to the one held stream', async () => {
    const stats = await getJson<Stats>(`${kit.url}/api/stats`, kit.auth());
    seen.set(stats.pid, stats);
    const workers = [...seen.values()];
    return (
      workers.length >= 2 &&
      workers.every((s) => {
        const expected = String(s.instance) === heldWorker ? 1 : 0;
        return s.streams === expected && s.events.subscriptions === expected;
      })
    );
  });
});

test('a stream stays on its worker for 60 s and more, kept open by heartbeats', { timeout: 120_000 }, async () => {
  await waitFor('60 s since the stream opened', () => Date.now() - heldSince >= 61_000, { timeoutMs: 90_000, intervalMs: 500 });
  await publish(kit, token, 'held', { when: 'end' });
  await waitFor('the last event', () => held.ids().length === 2);
  assert.equal(held.connections, 1, 'one connection all along: the same worker');
  const heartbeats = held.comments.filter((comment) => comment.text === 'heartbeat');
  assert.ok(heartbeats.length >= 3, `${heartbeats.length} heartbeats in 60 s`);
  assert.deepEqual(held.events.filter((e) => e.event === 'message').map((e) => payload(e)), [{ when: 'start' }, { when: 'end' }]);
});

test('publishing through 3 reloads: every client ends with the full set, in order, no duplicates', { timeout: 300_000 }, async () => {
  const clients = await openStreams(kit, 'reloads', 6, { reconnect: true });
  const published: string[] = [];
  let failures = 0;
  let stop = false;
  const publisher = (async () => {
    for (let n = 0; !stop; n++) {
      try {
        published.push((await publish(kit, token, 'reloads', { n })).id);
      } catch {
        failures++;
      }
    }
  })();

  let previous = new Set((await kit.onlineWorkers(2)).map((w) => w.pid));
  for (let round = 1; round <= 3; round++) {
    const mark = published.length;
    await waitFor('events flowing', () => published.length > mark + 20);
    const reload = await kit.pm2(['reload', path.join(repoRoot, 'ecosystem.config.js')]);
    assert.equal(reload.code, 0, reload.output);
    previous = new Set((await kit.onlineWorkers(2, previous)).map((w) => w.pid));
  }
  const mark = published.length;
  await waitFor('events after the last reload', () => published.length > mark + 20);
  stop = true;
  await publisher;

  assert.equal(failures, 0, 'no publish failed during the reloads');
  await waitFor('every client to have every event', () => clients.every((client) => client.ids().length >= published.length), { timeoutMs: 60_000 });
  for (const [index, client] of clients.entries()) {
    assert.deepEqual(client.ids(), published, `client ${index}: all ${published.length} events, once each, in order`);
    assert.ok(client.connections >= 2, `client ${index} reconnected (${client.connections} connections)`);
    assert.ok(client.events.some((e) => e.event === 'shutdown'), 'its worker said it was going');
  }
  for (const client of clients) client.close();
});
