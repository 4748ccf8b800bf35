import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import autocannon from 'autocannon';
import { getJson, request } from '../helpers/http.js';
import { repoRoot, TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

// bin/deploy against a running 2-worker cluster, under keep-alive load.
const site = path.join(repoRoot, 'apps', 'site');
const releases = path.join(repoRoot, '.astro-cluster', 'releases');
const currentLink = path.join(repoRoot, '.astro-cluster', 'current');
let kit: TestKit;

interface Health {
  pid: number;
  build: string;
}

before(async () => {
  kit = await TestKit.create({ instances: 2 });
  const started = await kit.run('start-pm2', ['--no-agents']);
  assert.equal(started.code, 0, started.output);
});

after(async () => {
  rmSync(path.join(site, 'src', 'pages', 'deploy-test-broken.astro'), { force: true });
  await kit.cleanup();
});

/** The build each worker serves, probing new connections until every PM2 worker answered. */
async function buildsByWorker(): Promise<Map<number, string>> {
  const pids = new Set((await kit.onlineWorkers(2)).map((w) => w.pid));
  const seen = new Map<number, string>();
  await waitFor('every worker on /healthz', async () => {
    const health = await getJson<Health>(`${kit.url}/healthz`);
    if (pids.has(health.pid)) seen.set(health.pid, health.build);
    return seen.size === pids.size;
  }, { intervalMs: 10 });
  return seen;
}

async function scriptOf(html: string): Promise<string> {
  const match = /\/_astro\/[^"]+\.js/.exec(html);
  assert.ok(match, 'the page links a hashed script');
  return match[0];
}

/** Runs a command under keep-alive load on pages, /healthz and the given asset; returns the load's result. */
async function underLoad(paths: string[], during: () => Promise<void>): Promise<autocannon.Result> {
  let finish!: (result: autocannon.Result) => void;
  const done = new Promise<autocannon.Result>((resolve) => (finish = resolve));
  let responses = 0;
  const load = autocannon(
    { url: kit.url, connections: 16, duration: 240, requests: paths.map((p) => ({ path: p })) },
    (error, result) => (error ? assert.fail(error) : finish(result)),
  );
  load.on('response', () => responses++);
  try {
    await waitFor('load flowing', () => responses > 300);
    await during();
    const mark = responses;
    await waitFor('load after the switch', () => responses > mark + 300);
  } finally {
    load.stop();
  }
  return done;
}

test('deploying a changed build under load: no failed request, the old asset still served, every worker on the new build', { timeout: 300_000 }, async () => {
  const before = await buildsByWorker();
  const oldBuild = [...before.values()][0]!;
  const oldScript = await scriptOf((await request(`${kit.url}/`)).body);

  let deployed = '';
  const result = await underLoad(['/', '/healthz', '/guides?q=reload', oldScript], async () => {
    const run = await kit.run('deploy');
    assert.equal(run.code, 0, run.output);
    deployed = /deployed release (\S+)/.exec(run.stdout)?.[1] ?? '';
    assert.match(run.stdout, /trial worker served release/);
  });
  assert.equal(result.errors, 0, `${result.errors} failed requests`);
  assert.equal(result.non2xx, 0, `${result.non2xx} non-2xx responses`);

  assert.notEqual(deployed, oldBuild);
  const afterDeploy = await buildsByWorker();
  assert.ok([...afterDeploy.values()].every((build) => build === deployed), 'every worker serves the new build');
  assert.ok([...afterDeploy.keys()].every((pid) => !before.has(pid)), 'every worker was replaced');
  const newScript = await scriptOf((await request(`${kit.url}/`)).body);
  assert.notEqual(newScript, oldScript, 'the build changed its hashed script');
  for (let i = 0; i < 6; i++) assert.equal((await request(`${kit.url}${oldScript}`)).status, 200, 'the old script, from any worker');
  assert.equal(readlinkSync(currentLink), `releases/${deployed}`);
  assert.ok(existsSync(path.join(releases, oldBuild)), 'the previous release is kept');
});

test('a rollback under load: no failed request, back on the previous build, the newer assets still served', { timeout: 300_000 }, async () => {
  const current = [...(await buildsByWorker()).values()][0]!;
  const currentScript = await scriptOf((await request(`${kit.url}/`)).body);
  let restored = '';
  const result = await underLoad(['/', '/healthz', currentScript], async () => {
    const run = await kit.run('deploy', ['--rollback']);
    assert.equal(run.code, 0, run.output);
    restored = /rolled back to release (\S+)/.exec(run.stdout)?.[1] ?? '';
  });
  assert.equal(result.errors, 0);
  assert.equal(result.non2xx, 0);
  assert.notEqual(restored, current);
  assert.ok([...(await buildsByWorker()).values()].every((build) => build === restored));
  assert.equal((await request(`${kit.url}${currentScript}`)).status, 200);
});

test('start-pm2 after a rollback keeps the release rolled back to, though the sources are newer than it', { timeout: 180_000 }, async () => {
  const serving = [...(await buildsByWorker()).values()][0]!;
  const builtAt = (id: string) => statSync(path.join(releases, id, 'build.json')).mtimeMs;
  const newest = readdirSync(releases)
    .filter((name) => existsSync(path.join(releases, name, 'build.json')))
    .sort((a, b) => builtAt(a) - builtAt(b))
    .at(-1)!;
  assert.notEqual(newest, serving, 'the release rolled back from is newer');
  // A source edited after the serving release was built, and built into the newer one: what a rollback undoes.
  const config = path.join(site, 'astro.config.ts');
  const { atime, mtime } = statSync(config);
  const edited = new Date((builtAt(serving) + builtAt(newest)) / 2);
  utimesSync(config, edited, edited);
  try {
    const run = await kit.run('start-pm2', ['--no-agents']);
    assert.equal(run.code, 0, run.output);
    assert.match(run.stdout, /serving the release rolled back to/);
    assert.doesNotMatch(run.stdout, /building a new release/);
  } finally {
    utimesSync(config, atime, mtime);
  }
  assert.ok([...(await buildsByWorker()).values()].every((build) => build === serving));
});

test('a broken build changes nothing that runs', { timeout: 300_000 }, async () => {
  const before = await buildsByWorker();
  const link = readlinkSync(currentLink);
  const releasesBefore = readdirSync(releases).sort();
  writeFileSync(path.join(site, 'src', 'pages', 'deploy-test-broken.astro'), '---\nconst x = ;\n---\n<p>{x}</p>\n');
  try {
    const run = await kit.run('deploy');
    assert.equal(run.code, 1, run.output);
    assert.match(run.stderr, /building the site failed/);
    assert.match(run.stderr, /KIT_BUILD_FAILED/);
  } finally {
    rmSync(path.join(site, 'src', 'pages', 'deploy-test-broken.astro'), { force: true });
  }
  assert.equal(readlinkSync(currentLink), link);
  assert.deepEqual(readdirSync(releases).sort(), releasesBefore, 'no release left behind');
  assert.deepEqual(await buildsByWorker(), before, 'the same workers serve the same build');
});

test('a release that does not become ready is never switched to', { timeout: 120_000 }, async () => {
  const before = await buildsByWorker();
  const link = readlinkSync(currentLink);
  // A release whose server cannot start, recorded as the one to roll back to.
  const broken = path.join(releases, '99991231T000000Z-broken');
  mkdirSync(path.join(broken, 'server'), { recursive: true });
  writeFileSync(path.join(broken, 'build.json'), JSON.stringify({ id: '99991231T000000Z-broken', builtAt: '9999-12-31T00:00:00.000Z' }));
  writeFileSync(path.join(broken, 'server', 'entry.mjs'), "throw new Error('this release cannot start');\n");
  const historyFile = path.join(releases, 'history.json');
  const history = readFileSync(historyFile, 'utf8');
  writeFileSync(historyFile, JSON.stringify([...JSON.parse(history), { id: '99991231T000000Z-broken', activatedAt: new Date().toISOString() }]));
  try {
    const run = await kit.run('deploy', ['--rollback']);
    assert.equal(run.code, 1, run.output);
    assert.match(run.stderr, /did not become ready, so the running release was left as it is/);
    assert.match(run.stderr, /this release cannot start/);
  } finally {
    rmSync(broken, { recursive: true, force: true });
    writeFileSync(historyFile, history);
  }
  assert.equal(readlinkSync(currentLink), link);
  assert.deepEqual(await buildsByWorker(), before);
});
