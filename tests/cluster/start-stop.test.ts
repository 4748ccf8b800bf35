import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { isAlive } from 'astro-cluster-kit/core';
import { readBuildInfo } from 'astro-cluster-kit/core';
import { getJson, rawRequest, request } from '../helpers/http.js';
import { repoRoot, TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

// A real PM2 daemon in a private PM2_HOME, real workers, real HTTP on loopback.
interface Health {
  pid: number;
  instance: number;
  build: string;
}

let kit: TestKit;

before(async () => {
  kit = await TestKit.create({ instances: 2 });
});

after(async () => {
  await kit.cleanup();
});

test('start-pm2 rebuilds a stale site, starts 2 workers in cluster mode, each answering /healthz', { timeout: 180_000 }, async () => {
  // A source edited after every release was built: a new one is built, with the build's output shown.
  const buildJson = path.join(repoRoot, '.astro-cluster', 'current', 'build.json');
  const staleBuild = (await readBuildInfo(path.dirname(buildJson))).id;
  const edited = new Date();
  utimesSync(path.join(repoRoot, 'apps', 'site', 'astro.config.ts'), edited, edited);
  const result = await kit.run('start-pm2', ['--no-agents']);
  assert.equal(result.code, 0, result.output);
  assert.match(result.stdout, /the site's sources changed since the last build\n▸ building a new release of the site/);
  assert.match(result.stdout, /│ .*Complete!/);
  const build = (await readBuildInfo(path.dirname(buildJson))).id;
  assert.notEqual(build, staleBuild);
  assert.match(result.stdout, new RegExp(`astro-web started: http://127\\.0\\.0\\.1:${kit.port} with 2 worker\\(s\\)`));
  assert.match(result.stdout, /pnpm exec pm2 logs astro-web/);

  const workers = await kit.onlineWorkers(2);
  assert.ok(workers.every((w) => w.pm2_env.status === 'online'));
  const pids = new Set(workers.map((w) => w.pid));
  const seen = await collectWorkers(pids.size);
  assert.deepEqual(new Set(seen.keys()), pids, 'every PM2 worker answered, and only those');
  assert.deepEqual(new Set([...seen.values()].map((h) => h.instance)), new Set([0, 1]));
  assert.ok([...seen.values()].every((h) => h.build === build), 'every worker serves the new build');
});

test('requests on new connections spread over every worker', async () => {
  const counts = new Map<number, number>();
  for (let i = 0; i < 40; i++) {
    const { pid } = await getJson<Health>(`${kit.url}/healthz`);
    counts.set(pid, (counts.get(pid) ?? 0) + 1);
  }
  assert.equal(counts.size, 2);
  for (const count of counts.values()) assert.ok(count >= 10, `uneven spread: ${[...counts.values()]}`);
});

test('start-pm2 again reloads in place: same number of workers, new pids', { timeout: 180_000 }, async () => {
  const before = new Set((await kit.onlineWorkers(2)).map((w) => w.pid));
  const result = await kit.run('start-pm2', ['--no-agents']);
  assert.equal(result.code, 0, result.output);
  assert.match(result.stdout, /astro-web reloaded/);
  assert.match(result.stdout, /trial worker served build/);
  const workers = await kit.workers();
  assert.equal(workers.length, 2, 'a second start adds no instances');
  for (const w of workers) assert.ok(!before.has(w.pid), `worker ${w.pid} was not replaced`);
});

test('a malformed URL gets 400 through the cluster and restarts no worker', async () => {
  const restarts = (await kit.workers()).map((w) => w.pm2_env.restart_time);
  for (let i = 0; i < 4; i++) {
    const res = await rawRequest(kit.port, 'GET /%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(res, /^HTTP\/1\.1 400 /);
  }
  assert.deepEqual((await kit.workers()).map((w) => w.pm2_env.restart_time), restarts);
});

test('a worker killed with SIGKILL is restarted while the other keeps serving', { timeout: 120_000 }, async () => {
  const [victim, survivor] = await kit.onlineWorkers(2);
  assert.ok(victim && survivor);
  process.kill(victim.pid, 'SIGKILL');
  await waitFor('the victim to die', () => !isAlive(victim.pid));
  for (let i = 0; i < 20; i++) {
    const res = await request(`${kit.url}/`);
    assert.equal(res.status, 200, `request ${i} while a worker is down`);
  }
  const replaced = await waitFor('PM2 to restart the worker', async () => {
    const entry = (await kit.workers()).find((w) => w.pm_id === victim.pm_id);
    return entry && entry.pm2_env.status === 'online' && entry.pid !== victim.pid && entry.pid > 0 ? entry : undefined;
  });
  assert.equal(replaced.pm2_env.restart_time, victim.pm2_env.restart_time + 1);
  const seen = await collectWorkers(2);
  assert.ok(seen.has(replaced.pid), 'the restarted worker serves');
});

test('stop-pm2 stops only the kit: another app in the same daemon keeps running', { timeout: 120_000 }, async () => {
  const decoy = await kit.pm2(['start', process.execPath, '--name', 'decoy', '--', '-e', 'setInterval(() => {}, 1000)']);
  assert.equal(decoy.code, 0, decoy.output);
  const decoyPid = (await waitFor('the decoy online', async () => (await kit.list()).find((p) => p.name === 'decoy' && p.pid > 0)))!.pid;
  const workerPids = (await kit.workers()).map((w) => w.pid);

  const result = await kit.run('stop-pm2');
  assert.equal(result.code, 0, result.output);
  assert.match(result.stdout, /stopped astro-web: 2 worker\(s\)/);
  const left = await kit.list();
  assert.deepEqual(left.map((p) => p.name), ['decoy']);
  assert.ok(isAlive(decoyPid), 'the decoy still runs');
  await waitFor('the kit workers to exit', () => workerPids.every((pid) => !isAlive(pid)));
  await assert.rejects(request(`${kit.url}/healthz`), /ECONNREFUSED/);

  const again = await kit.run('stop-pm2');
  assert.equal(again.code, 0);
  assert.match(again.stdout, /no web worker of the kit was running/);
});

test('a health path other than /healthz (HEALTH_PATH): start-pm2 and status ask it, and every worker answers there', { timeout: 120_000 }, async () => {
  const env = { HEALTH_PATH: '/up' };
  const result = await kit.run('start-pm2', ['--no-agents'], env);
  assert.equal(result.code, 0, result.output);
  const workers = new Set((await kit.onlineWorkers(2)).map((w) => w.pid));
  const status = await kit.run('status', ['--json'], env);
  const json = JSON.parse(status.stdout) as { web: { workers: { pid: number; build?: string }[] } };
  assert.deepEqual(new Set(json.web.workers.filter((w) => w.build).map((w) => w.pid)), workers, `every worker answered /up: ${status.output}`);
  assert.equal((await getJson<Health>(`${kit.url}/up`)).build, json.web.workers[0]!.build);
  const stopped = await kit.run('stop-pm2', [], env);
  assert.equal(stopped.code, 0, stopped.output);
});

test('a port taken by another program: start-pm2 fails fast, names the port and its owner, starts nothing', { timeout: 60_000 }, async () => {
  const squatter = net.createServer().listen(kit.port, '127.0.0.1');
  await new Promise((resolve) => squatter.once('listening', resolve));
  try {
    const began = Date.now();
    const result = await kit.run('start-pm2', ['--no-agents']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, new RegExp(`port ${kit.port} on 127\\.0\\.0\\.1 is already in use by pid ${process.pid}`));
    assert.match(result.stderr, /KIT_PORT_IN_USE/);
    assert.ok(Date.now() - began < 30_000);
    assert.deepEqual(await kit.workers(), []);
  } finally {
    squatter.close();
  }
});

test('invalid WEB_INSTANCES or PORT: a clear error, nothing started', async () => {
  for (const [name, value] of [['WEB_INSTANCES', 'lots'], ['PORT', '70000'], ['PORT', 'http']] as const) {
    const result = await kit.run('start-pm2', ['--no-agents'], { [name]: value });
    assert.equal(result.code, 1, result.output);
    assert.match(result.stderr, new RegExp(`${name}="${value}"`));
    assert.match(result.stderr, /KIT_INVALID_SETTINGS/);
  }
  assert.deepEqual(await kit.workers(), []);
});

test('an unknown option is a usage error (exit 2)', async () => {
  const result = await kit.run('start-pm2', ['--bogus']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /Unknown option '--bogus'/);
});

test('a build that crashes at start: start-pm2 reports the crash loop with the error log, leaves nothing in PM2', { timeout: 120_000 }, async () => {
  const result = await kit.run('start-pm2', ['--no-agents'], { SITE_DIR: brokenSite() });
  assert.equal(result.code, 1, result.output);
  assert.match(result.stderr, /KIT_CRASH_LOOP|KIT_START_TIMEOUT/);
  assert.match(result.stderr, /this build cannot start/, 'the tail of the error log is shown');
  assert.deepEqual(await kit.workers(), [], 'nothing half-started is left');
});

// PM2 relaunches a worker it deletes while that worker is starting (it exits
// before `ready`, which PM2 takes for "online"): a crash loop is the worst case.
test('stop-pm2 removes a crash-looping build for good, workers caught starting included', { timeout: 240_000 }, async () => {
  for (let round = 1; round <= 3; round++) {
    const started = await kit.pm2(['start', path.join(repoRoot, 'ecosystem.config.js')], { SITE_DIR: brokenSite() });
    assert.equal(started.code, 0, started.output);
    await waitFor('the workers to crash-loop', async () => (await kit.workers()).reduce((sum, w) => sum + w.pm2_env.restart_time, 0) >= 4);
    const stopped = await kit.run('stop-pm2');
    assert.equal(stopped.code, 0, stopped.output);
    assert.deepEqual(await kit.workers(), [], `round ${round}: nothing comes back after stop-pm2`);
  }
});

/** A site build whose server entry throws as soon as a worker imports it. */
function brokenSite(): string {
  const broken = path.join(kit.dir, 'broken-site');
  mkdirSync(path.join(broken, 'server'), { recursive: true });
  writeFileSync(path.join(broken, 'build.json'), JSON.stringify({ id: 'broken', builtAt: new Date().toISOString() }));
  writeFileSync(path.join(broken, 'server', 'entry.mjs'), "throw new Error('this build cannot start');\n");
  return broken;
}

/** Probes /healthz on new connections until `count` distinct workers answered. */
async function collectWorkers(count: number): Promise<Map<number, Health>> {
  const seen = new Map<number, Health>();
  await waitFor(`${count} distinct workers on /healthz`, async () => {
    const health = await getJson<Health>(`${kit.url}/healthz`);
    seen.set(health.pid, health);
    return seen.size >= count;
  }, { intervalMs: 10 });
  return seen;
}
