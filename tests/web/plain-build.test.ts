import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { freePort, getJson, request } from '../helpers/http.js';
import { repoRoot } from '../helpers/kit.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker.js';

// SITE_DIR pointing at a plain `astro build` output: no build.json, which
// `astro build` would delete anyway. The worker serves it as it is.
const dir = mkdtempSync(path.join(os.tmpdir(), 'kit-plain-build-'));
let worker: WorkerProcess | undefined;
after(() => {
  if (worker?.child.exitCode === null) worker.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('a plain standalone build without build.json is served, its id taken from the build itself', { timeout: 60_000 }, async () => {
  const site = path.join(dir, 'dist');
  cpSync(path.join(repoRoot, '.astro-cluster', 'current'), site, { recursive: true, dereference: true });
  rmSync(path.join(site, 'build.json'));
  const port = await freePort();
  worker = await startWorkerProcess({ PORT: String(port), HOST: '127.0.0.1', SITE_DIR: site, LOGS_DIR: path.join(dir, 'logs') });
  const health = await getJson<{ status: string; build: string }>(`http://127.0.0.1:${port}/healthz`);
  assert.equal(health.status, 'ok');
  const builtAt = statSync(path.join(site, 'server', 'entry.mjs')).mtime.toISOString().replace(/[-:]|\.\d+/g, '');
  assert.equal(health.build, `unreleased-${builtAt}`);
  assert.equal((await request(`http://127.0.0.1:${port}/`)).status, 200);
});
