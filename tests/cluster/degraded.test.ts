import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import autocannon from 'autocannon';
import { tryWorker } from 'astro-cluster-kit/cluster';
import { readSettings } from 'astro-cluster-kit/core';
import { FileEventLog } from 'astro-cluster-kit/event-log';
import { getJson } from '../helpers/http.js';
import { repoRoot, TestKit } from '../helpers/kit.js';
import { TempReleases } from '../helpers/releases.js';
import { waitFor } from '../helpers/wait.js';

// A plain `pm2 reload` onto a release that cannot start (nothing tried it
// first) must not take the site down: PM2 retires the old workers anyway, so
// the new ones serve the last good release, and say so. The releases are
// this test's own (RELEASES_DIR), never the repo's shared .astro-cluster/.
const good = '20990101T000000Z-good';
const broken = '20990102T000000Z-broken';
let releases: TempReleases;
let kit: TestKit;

interface Health {
  status: string;
  pid: number;
  build: string;
  wanted?: string;
  reason?: string;
}

before(async () => {
  releases = TempReleases.create(good);
  kit = await TestKit.create({ instances: 2, env: { RELEASES_DIR: releases.releasesDir } });
  const started = await kit.run('start-pm2', ['--no-agents']);
  assert.equal(started.code, 0, started.output);
  assert.doesNotMatch(started.output, /building a new release/, 'the copied release is fresh');
});

after(async () => {
  await kit?.cleanup();
  releases?.remove();
});

/** Every online worker's /healthz, probing new connections until each answered. */
async function healthByWorker(): Promise<Map<number, Health>> {
  const pids = new Set((await kit.onlineWorkers(2)).map((w) => w.pid));
  const seen = new Map<number, Health>();
  await waitFor('every worker on /healthz', async () => {
    const health = await getJson<Health>(`${kit.url}/healthz`);
    if (pids.has(health.pid)) seen.set(health.pid, health);
    return seen.size === pids.size;
  }, { intervalMs: 10 });
  return seen;
}

test('a worker that served records its release as the last good one', async () => {
  const file = path.join(releases.dir, 'last-good');
  await waitFor('last-good to be written', () => existsSync(file));
  const record = JSON.parse(readFileSync(file, 'utf8')) as { id: string; dir: string };
  assert.equal(record.id, good);
  assert.equal(record.dir, path.join(releases.releasesDir, good));
  for (const health of (await healthByWorker()).values()) assert.equal(health.status, 'ok');
  assert.equal((await kit.run('status')).code, 0, 'healthy before the fault');
});

test('pm2 reload onto a broken current release under load: no failed request, every worker degraded on the last good one', { timeout: 180_000 }, async () => {
  const pidsBefore = new Set((await kit.onlineWorkers(2)).map((w) => w.pid));
  releases.broken(broken);
  releases.switchTo(broken);

  let finish!: (result: autocannon.Result) => void;
  const done = new Promise<autocannon.Result>((resolve) => (finish = resolve));
  let responses = 0;
  const load = autocannon(
    { url: kit.url, connections: 16, duration: 120, requests: [{ path: '/' }, { path: '/healthz' }, { path: '/guides?q=reload' }] },
    (error, result) => (error ? assert.fail(error) : finish(result)),
  );
  load.on('response', () => responses++);
  try {
    await waitFor('load flowing', () => responses > 300);
    // As an operator would, from a shell that knows nothing of the kit.
    const reload = await kit.pm2(['reload', 'astro-web']);
    assert.equal(reload.code, 0, reload.output);
    const mark = responses;
    await waitFor('load after the reload', () => responses > mark + 300);
  } finally {
    load.stop();
  }
  const result = await done;
  assert.equal(result.errors, 0, 'no failed request');
  assert.equal(result.non2xx, 0, 'no error response');

  const workers = await kit.onlineWorkers(2);
  assert.ok(workers.every((w) => !pidsBefore.has(w.pid)), 'every worker was replaced');
  const health = await healthByWorker();
  for (const worker of health.values()) {
    assert.equal(worker.status, 'degraded');
    assert.equal(worker.build, good, 'it serves the last good release');
    assert.equal(worker.wanted, broken, 'and names the one it could not load');
    assert.match(worker.reason ?? '', /this release cannot start/);
  }

  const status = await kit.run('status');
  assert.equal(status.code, 1, status.output);
  assert.match(status.stdout, new RegExp(`is degraded: it serves the last good release ${good} because build ${broken} could not be loaded \\(.*this release cannot start`));

  const log = new FileEventLog(path.join(kit.logsDir, 'run', 'events'), { count: 10_000, maxAgeMs: 86_400_000 });
  const entries = (await log.latest('audit', 200)).map((e) => e.data as { kind: string; build: string; wanted: string; pid: number });
  const degraded = entries.filter((e) => e.kind === 'degraded');
  assert.deepEqual(new Set(degraded.map((e) => e.pid)), new Set(health.keys()), 'every degraded worker published an audit entry');
  for (const entry of degraded) assert.deepEqual([entry.build, entry.wanted], [good, broken]);
  await log.close();

  const record = JSON.parse(readFileSync(path.join(releases.dir, 'last-good'), 'utf8')) as { id: string };
  assert.equal(record.id, good, 'a degraded worker does not move the record');
  assert.deepEqual(readdirSync(releases.dir).filter((name) => name.endsWith('.tmp')), [], 'no half-written record left');
});

test('a trial worker never falls back: it fails on the broken current release', { timeout: 60_000 }, async () => {
  // What start and deploy run before they switch or reload (ASTRO_CLUSTER_NO_FALLBACK=1 in its environment).
  const settings = readSettings({ ...kit.env, ASTRO_CLUSTER_ROOT: repoRoot });
  assert.equal(settings.siteDir, releases.currentLink);
  await assert.rejects(tryWorker(settings), /this release cannot start/);
});
