import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { readBuildInfo } from 'astro-cluster-kit/core';
import { freePort, request } from '../helpers/http.js';
import { repoRoot } from '../helpers/kit.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker.js';

// The worker started by hand (no PM2): the same entry PM2 runs in every cluster worker.
const siteDir = path.join(repoRoot, '.astro-cluster', 'current');
let worker: WorkerProcess;
let base: string;

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  worker = await startWorkerProcess({ PORT: String(port), HOST: '127.0.0.1', SITE_DIR: siteDir, DRAIN_TIMEOUT_MS: '3000' });
});

after(() => {
  if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
});

test('/healthz says ok, which process answers, and which build it serves', async () => {
  const res = await request(`${base}/healthz`);
  assert.equal(res.status, 200);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = JSON.parse(res.body);
  assert.equal(body.status, 'ok');
  assert.equal(body.pid, worker.child.pid);
  assert.equal(body.instance, null, 'no PM2 instance when started by hand');
  assert.equal(body.build, (await readBuildInfo(siteDir)).id);
  assert.ok(Number.isInteger(body.uptimeMs) && body.uptimeMs >= 0);
  assert.equal((await request(`${base}/healthz`, { method: 'POST' })).status, 405);
});

test('SSR pages render with the shared layout, the build id and the worker', async () => {
  const home = await request(`${base}/`);
  assert.equal(home.status, 200);
  assert.match(home.body, /<footer data-instance="standalone" data-pid="\d+" data-build="[^"]+"/);
  const guides = await request(`${base}/guides?q=keep-alive`);
  assert.equal(guides.status, 200);
  assert.match(guides.body, /data-testid="count">1 of 5 guides/);
  const tagged = await request(`${base}/guides?tag=reload`);
  assert.match(tagged.body, /data-testid="count">3 of 5 guides/);
  const guide = await request(`${base}/guides/graceful-drain`);
  assert.match(guide.body, /<h1>Draining without a single reset<\/h1>/);
});

test('hashed assets are served from the build, cached for good', async () => {
  const assets = readdirSync(path.join(siteDir, 'client', '_astro'));
  assert.ok(assets.some((name) => name.endsWith('.css')) && assets.some((name) => name.endsWith('.js')));
  for (const name of assets) {
    const res = await request(`${base}/_astro/${name}`);
    assert.equal(res.status, 200, name);
    assert.match(String(res.headers['cache-control']), /immutable/);
  }
  const home = await request(`${base}/`);
  for (const name of assets.filter((n) => n.endsWith('.css'))) assert.ok(home.body.includes(`/_astro/${name}`), `${name} linked from the page`);
});

test('unknown pages get the 404 page; a malformed URL gets 400, not a crash', async () => {
  const missing = await request(`${base}/no/such/page`);
  assert.equal(missing.status, 404);
  assert.match(missing.body, /Not found/);
  const unknownGuide = await request(`${base}/guides/no-such-guide`);
  assert.equal(unknownGuide.status, 404);
  for (const url of ['/%E0%A4%A', '/healthz%', '/guides/%ZZ']) {
    assert.equal((await request(`${base}${url}`)).status, 400, url);
  }
  assert.equal((await request(`${base}/healthz`)).status, 200, 'still serving');
});

test('SIGINT drains: a kept-alive connection gets Connection: close, then the worker exits 0', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const first = await getWith(agent, `${base}/healthz`);
  assert.equal(first.connection, 'keep-alive');
  worker.child.kill('SIGINT');
  await waitUntilRefused(new URL(base));
  const second = await getWith(agent, `${base}/healthz`);
  assert.equal(second.status, 200);
  assert.equal(second.connection, 'close');
  assert.equal(await worker.exited, 0);
  assert.match(worker.output(), /SIGINT: draining/);
  assert.match(worker.output(), /drained in \d+ ms; exiting/);
  agent.destroy();
});

function getWith(agent: http.Agent, url: string): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      })
      .on('error', reject);
  });
}

/** The listener is closed once new connections are refused; kept-alive ones still work. */
async function waitUntilRefused(url: URL): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(Number(url.port), url.hostname);
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
    if (refused) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the listener never closed');
}

for (const [how, stop] of [
  ['SIGTERM', (w: WorkerProcess) => w.child.kill('SIGTERM')],
  ["PM2's shutdown message", (w: WorkerProcess) => w.child.send('shutdown')],
] as const) {
  test(`${how} drains and exits 0 too`, async () => {
    const port = await freePort();
    const other = await startWorkerProcess({ PORT: String(port), HOST: '127.0.0.1', SITE_DIR: siteDir });
    assert.equal((await request(`http://127.0.0.1:${port}/healthz`)).status, 200);
    stop(other);
    assert.equal(await other.exited, 0);
    assert.match(other.output(), /draining/);
  });
}
