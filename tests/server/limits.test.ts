import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { Limits, limitStreams, serve, type RunningServer } from 'astro-cluster-kit/server';
import { rawRequest } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

// The kit's server against misbehaving clients, on loopback: caps, timeouts, TRACE, HTTPS.
const servers: RunningServer[] = [];
after(async () => {
  for (const running of servers) await running.shutdown('test over');
});

/** An app whose /stream holds an event stream open (counted as one), and whose other paths answer at once. */
function app(limits: Limits): http.RequestListener {
  return limitStreams(limits, (req, res) => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      limits.addStream(req, res);
      res.write(': open\n\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok');
  }) as http.RequestListener;
}

async function start(caps: Partial<{ maxConnections: number; maxStreams: number; maxStreamsPerClient: number }>, extra: Record<string, unknown> = {}) {
  const limits = new Limits({ maxConnections: 1000, maxStreams: 1000, maxStreamsPerClient: 1000, ...caps });
  const running = await serve({
    handler: app(limits),
    host: '127.0.0.1',
    port: 0,
    keepAliveTimeoutMs: 5000,
    drainTimeoutMs: 1000,
    limits,
    log: () => undefined,
    exit: () => undefined,
    ...extra,
  });
  servers.push(running);
  return { running, limits };
}

/** Opens an event stream from `localAddress` and resolves once its head arrived (or with the refusal). */
function openStream(port: number, localAddress = '127.0.0.1'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/stream', localAddress, agent: false, headers: { Accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode === 200) return resolve({ status: 200, headers: res.headers, body: '', close: () => req.destroy() });
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, close: () => req.destroy() }));
    });
    req.on('error', reject);
  });
}

test('a client past its share of streams gets 429 with Retry-After; another client and plain pages still get through', { timeout: 30_000 }, async () => {
  const { running, limits } = await start({ maxStreamsPerClient: 3, maxStreams: 5 });
  const mine = await Promise.all([1, 2, 3].map(() => openStream(running.port, '127.0.0.1')));
  assert.deepEqual(mine.map((s) => s.status), [200, 200, 200]);
  const refused = await openStream(running.port, '127.0.0.1');
  assert.equal(refused.status, 429);
  assert.match(String(refused.headers['retry-after']), /^\d+$/);
  assert.match(refused.body, /Too many requests/);
  // Keyed by the socket's address: X-Forwarded-For is not trusted, and another address has its own share.
  const other = await openStream(running.port, '127.0.0.2');
  assert.equal(other.status, 200);
  const page = await rawRequest(running.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(page, /^HTTP\/1.1 200/);
  // The worker is full of streams: 503, not 429, for a new client.
  const next = await openStream(running.port, '127.0.0.3');
  assert.equal(next.status, 200);
  const full = await openStream(running.port, '127.0.0.4');
  assert.equal(full.status, 503);
  assert.ok(full.headers['retry-after']);
  assert.equal(limits.stats().streams, 5);
  // A stream that closes frees its place.
  mine[0]!.close();
  await waitFor('the closed stream to be forgotten', () => limits.stats().streams === 4);
  const again = await openStream(running.port, '127.0.0.1');
  assert.equal(again.status, 200);
  for (const s of [...mine, other, next, again]) s.close();
});

test('past the connection cap a request is answered 503 with Connection: close, never left hanging', { timeout: 30_000 }, async () => {
  const { running, limits } = await start({ maxConnections: 2 });
  const held = await Promise.all([1, 2].map(() => openStream(running.port)));
  const answer = await rawRequest(running.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(answer, /^HTTP\/1.1 503/);
  assert.match(answer, /Connection: close/i);
  assert.match(answer, /Retry-After: \d+/i);
  for (const s of held) s.close();
  await waitFor('the connections to close', () => limits.stats().connections === 0);
  assert.match(await rawRequest(running.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1.1 200/);
});

test('a request whose headers never finish is cut after HEADERS_TIMEOUT_MS; a stream outlives REQUEST_TIMEOUT_MS', { timeout: 30_000 }, async () => {
  const { running } = await start({}, { headersTimeoutMs: 1000, requestTimeoutMs: 1500 });
  const started = Date.now();
  const cut = await new Promise<{ data: string; ms: number }>((resolve, reject) => {
    const socket = net.connect(running.port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n'));
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString()));
    socket.on('close', () => resolve({ data, ms: Date.now() - started }));
    socket.on('error', reject);
  });
  assert.match(cut.data, /^HTTP\/1.1 408/);
  assert.ok(cut.ms >= 900 && cut.ms < 6000, `cut after ${cut.ms} ms`);

  // requestTimeout limits receiving the request only: a stream held past it stays open.
  const stream = await new Promise<http.ClientRequest>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: running.port, path: '/stream', agent: false }, () => resolve(req));
    req.on('error', reject);
  });
  // Past both timeouts and Node's checking interval: the stream must still be open.
  const closedEarly = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 3500);
    stream.socket?.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  assert.equal(closedEarly, false, 'the stream was cut');
  stream.destroy();
});

test('TRACE gets 405 with Allow, and no stack trace; TRACK never reaches the app', async () => {
  const { running } = await start({});
  const answer = await rawRequest(running.port, 'TRACE / HTTP/1.1\r\nHost: x\r\nCookie: secret=1\r\nConnection: close\r\n\r\n');
  assert.match(answer, /^HTTP\/1.1 405/);
  assert.match(answer, /Allow: GET/i);
  assert.doesNotMatch(answer, /secret|at .*\.js/);
  // Node's parser knows no TRACK: it answers 400 itself (the guard refuses it too, should a parser accept it).
  const track = await rawRequest(running.port, 'TRACK / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(track, /^HTTP\/1.1 (400|405)/);
});

test('with a certificate and key the server speaks HTTPS', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kit-tls-'));
  try {
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const { running } = await start({ maxConnections: 10 }, { tls: { cert: readFileSync(cert), key: readFileSync(key) } });
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: running.port, path: '/', rejectUnauthorized: false, agent: false }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
    assert.equal(body, 'ok');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
