import assert from 'node:assert/strict';
import http from 'node:http';
import test from 'node:test';
import { serve, type RunningServer } from 'astro-cluster-kit/server';
import { rawRequest } from '../helpers/http.js';

interface Harness {
  running: RunningServer;
  base: string;
  exited: Promise<{ code: number; at: number }>;
  log: string[];
}

/** A real server on a loopback port whose exit is observed instead of ending the test process. */
async function start(handler: http.RequestListener, options: { drainTimeoutMs?: number; idleGraceMs?: number } = {}): Promise<Harness> {
  const log: string[] = [];
  let exit!: (value: { code: number; at: number }) => void;
  const exited = new Promise<{ code: number; at: number }>((resolve) => (exit = resolve));
  const running = await serve({
    handler,
    host: '127.0.0.1',
    port: 0,
    keepAliveTimeoutMs: 30_000,
    drainTimeoutMs: options.drainTimeoutMs ?? 5000,
    idleGraceMs: options.idleGraceMs ?? 300,
    log: (line) => log.push(line),
    exit: (code) => exit({ code, at: Date.now() }),
  });
  return { running, base: `http://127.0.0.1:${running.port}`, exited, log };
}

function get(url: string, agent: http.Agent | false): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reused: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

const ok: http.RequestListener = (_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('ok');
};

test('a kept-alive socket gets Connection: close on its next request instead of a reset', async () => {
  const { running, base, exited } = await start(ok);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const first = await get(`${base}/a`, agent);
  assert.equal(first.headers.connection, 'keep-alive');

  void running.shutdown('test');
  const second = await get(`${base}/b`, agent);
  assert.equal(second.status, 200);
  assert.equal(second.reused, true, 'the request went out on the kept-alive socket');
  assert.equal(second.headers.connection, 'close');
  assert.equal((await exited).code, 0);
  agent.destroy();
});

test('the listener closes at once: new connections are refused while old ones drain', async () => {
  const { running, base, exited } = await start(ok);
  void running.shutdown('test');
  await assert.rejects(get(`${base}/`, false), (error: NodeJS.ErrnoException) => error.code === 'ECONNREFUSED');
  await exited;
});

test('a request in flight finishes, with Connection: close', async () => {
  let arrived!: () => void;
  const inFlight = new Promise<void>((resolve) => (arrived = resolve));
  const { running, base, exited } = await start((_req, res) => {
    arrived();
    setTimeout(() => res.end('slow but complete'), 300);
  });
  const agent = new http.Agent({ keepAlive: true });
  const pending = get(`${base}/slow`, agent);
  await inFlight;
  void running.shutdown('test');
  const res = await pending;
  assert.equal(res.body, 'slow but complete');
  assert.equal(res.headers.connection, 'close');
  await exited;
  agent.destroy();
});

test('a socket left idle is closed after the grace period, and the process exits then', async () => {
  const { running, base, exited } = await start(ok, { idleGraceMs: 400 });
  const agent = new http.Agent({ keepAlive: true });
  await get(`${base}/`, agent);
  const socketClosed = new Promise<number>((resolve) => {
    const [socket] = Object.values(agent.freeSockets).flat();
    assert.ok(socket, 'the agent keeps one idle socket');
    socket.once('close', () => resolve(Date.now()));
  });
  const began = Date.now();
  void running.shutdown('test');
  const closedAt = await socketClosed;
  const { at } = await exited;
  assert.ok(closedAt - began >= 350, `closed after ${closedAt - began} ms, before the grace period`);
  assert.ok(at >= closedAt);
  agent.destroy();
});

test('event streams are ended with their reconnect hint rather than awaited', async () => {
  let registered!: () => void;
  const streaming = new Promise<void>((resolve) => (registered = resolve));
  const harness = await start((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.write(': open\n\n');
    harness.running.streams.add(res, () => res.end('retry: 250\nevent: shutdown\ndata: {}\n\n'));
    registered();
  });
  const received = get(`${harness.base}/events`, false);
  await streaming;
  assert.equal(harness.running.streams.size, 1);
  void harness.running.shutdown('test');
  const { body } = await received;
  assert.match(body, /retry: 250\n/);
  const { at } = await harness.exited;
  assert.equal(harness.running.streams.size, 0);
  assert.ok(at > 0);
});

test('at the drain deadline whatever is left is closed and the process exits', async () => {
  const { running, base, exited, log } = await start(() => {
    // Never answers.
  }, { drainTimeoutMs: 500 });
  const hung = get(`${base}/hang`, false);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const began = Date.now();
  void running.shutdown('test');
  await assert.rejects(hung, /socket hang up|ECONNRESET/);
  const { code, at } = await exited;
  assert.equal(code, 0);
  assert.ok(at - began >= 450 && at - began < 3000, `exited after ${at - began} ms`);
  assert.ok(log.some((line) => line.includes('deadline')));
});

test('shutdown runs once however often it is asked', async () => {
  let exits = 0;
  const running = await serve({
    handler: ok,
    host: '127.0.0.1',
    port: 0,
    keepAliveTimeoutMs: 5000,
    drainTimeoutMs: 1000,
    log: () => {},
    exit: () => exits++,
  });
  await Promise.all([running.shutdown('one'), running.shutdown('two'), running.shutdown('three')]);
  assert.equal(exits, 1);
});

test('an app that throws gets 500, a URL that does not decode gets 400, and the server stays up', async () => {
  const { running, base, exited } = await start((req, res) => {
    if (req.url === '/sync') throw new Error('boom');
    if (req.url === '/async') return Promise.reject(new Error('later boom')) as unknown as void;
    ok(req, res);
  });
  assert.equal((await get(`${base}/sync`, false)).status, 500);
  assert.equal((await get(`${base}/async`, false)).status, 500);
  const raw = await rawRequest(running.port, 'GET /%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(raw, /^HTTP\/1\.1 400 /);
  assert.equal((await get(`${base}/fine`, false)).status, 200);
  void running.shutdown('test');
  await exited;
});
