import assert from 'node:assert/strict';
import { copyFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { freePort, request, type SimpleResponse } from '../helpers/http.js';
import { TempReleases } from '../helpers/releases.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker.js';

// An asset that only an older release has is served through the release
// fallback, and must keep the caching semantics of the adapter's own files.
let releases: TempReleases;
let worker: WorkerProcess;
let base: string;
let current: string;
let old: string;

before(async () => {
  releases = TempReleases.create('20990101T000000Z-current');
  const oldDir = releases.copyOfCurrent('20000101T000000Z-old');
  // Same bytes and times as a current asset, under a name only the old release has.
  current = readdirSync(path.join(oldDir, 'client', '_astro')).find((name) => name.endsWith('.css'))!;
  old = `old-only.${current}`;
  copyFileSync(path.join(oldDir, 'client', '_astro', current), path.join(oldDir, 'client', '_astro', old));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  worker = await startWorkerProcess({ PORT: String(port), HOST: '127.0.0.1', SITE_DIR: releases.currentLink });
});

after(() => {
  if (worker?.child.exitCode === null) worker.child.kill('SIGKILL');
  releases?.remove();
});

const caching = ['etag', 'last-modified', 'accept-ranges', 'cache-control', 'content-type'];
const present = (res: SimpleResponse) => caching.filter((name) => res.headers[name] !== undefined);

test('an old release asset has the same caching headers as a current one served by the adapter', async () => {
  const adapter = await request(`${base}/_astro/${current}`);
  const fallback = await request(`${base}/_astro/${old}`);
  assert.equal(adapter.status, 200);
  assert.equal(fallback.status, 200);
  assert.equal(fallback.body, adapter.body);
  assert.deepEqual(present(fallback), present(adapter));
  assert.deepEqual(present(fallback), caching, 'ETag, Last-Modified, Accept-Ranges, Cache-Control, Content-Type');
  for (const name of ['cache-control', 'content-type', 'accept-ranges']) assert.equal(fallback.headers[name], adapter.headers[name], name);
  assert.equal(fallback.headers['etag']!.length > 0, true);
});

test('conditional requests to an old release asset answer 304', async () => {
  const first = await request(`${base}/_astro/${old}`);
  const byTag = await request(`${base}/_astro/${old}`, { headers: { 'If-None-Match': String(first.headers.etag) } });
  assert.equal(byTag.status, 304);
  assert.equal(byTag.body, '');
  const byDate = await request(`${base}/_astro/${old}`, { headers: { 'If-Modified-Since': String(first.headers['last-modified']) } });
  assert.equal(byDate.status, 304);
  assert.equal((await request(`${base}/_astro/${old}`, { headers: { 'If-None-Match': '"something-else"' } })).status, 200);
});

test('ranges of an old release asset: 206 with Content-Range, 416 when unsatisfiable', async () => {
  const whole = await request(`${base}/_astro/${old}`);
  const part = await request(`${base}/_astro/${old}`, { headers: { Range: 'bytes=0-9' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 0-9/${Buffer.byteLength(whole.body)}`);
  assert.equal(part.body, whole.body.slice(0, 10));
  const beyond = await request(`${base}/_astro/${old}`, { headers: { Range: 'bytes=99999999-' } });
  assert.equal(beyond.status, 416);
  assert.equal(beyond.headers['content-range'], `bytes */${Buffer.byteLength(whole.body)}`);
  const head = await request(`${base}/_astro/${old}`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
});

test('an asset no release has is the site\'s 404', async () => {
  assert.equal((await request(`${base}/_astro/nowhere.abc123.css`)).status, 404);
});
