// Adoption: the packed kit installed into a throwaway repo shaped like a
// user's (tests/adoption/fixture.ts), set up exactly as the README says
// (`pnpm add -D -w <tgz>`, `pnpm exec astro-cluster init --yes`, `pnpm
// install`, `./bin/start-pm2`), under each Astro major and Node version of the
// matrix. It checks the kit serves the site as the adapter's own server
// does, reloads under load without losing a request, shares sessions and
// events across workers, leaves the site's sources alone, and stops cleanly.
//
//   ADOPTION_MATRIX=5@system              (the default)
//   ADOPTION_MATRIX=5@system,7@22,6@24    (CI)
//   ADOPTION_KEEP=1                       keep the temp folders to look at
//
// Entries are <astro major>@<system|22|24>; 22 and 24 are installed once into
// ~/.cache/astro-cluster-kit (tests/setup/node-versions.ts).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import autocannon from 'autocannon';
import { isAlive } from 'astro-cluster-kit/core';
import { freePort, request } from '../helpers/http.js';
import { kitProcesses, repoRoot } from '../helpers/kit.js';
import { payload, SseClient } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';
import { nodeBinDir, systemNodeBinDir } from '../setup/node-versions.js';
import { CookieJar, fetchRaw, type RawResponse } from './client.js';
import { astroVersions, commitAll, sessionCookie, writeFixture, type AstroMajor } from './fixture.js';
import { repoEnv, run, say, tail, type RepoEnv, type RunOptions } from './shell.js';

interface MatrixEntry {
  astroMajor: AstroMajor;
  node: 'system' | 22 | 24;
  label: string;
}

const matrix = parseMatrix(process.env.ADOPTION_MATRIX || '5@system');
const keep = process.env.ADOPTION_KEEP === '1';
const minutes = (n: number) => n * 60_000;

let packDir: string | undefined;
let kitTarball: string;

before(async () => {
  packDir = await mkdtemp(path.join(os.tmpdir(), 'adoption-pack-'));
  say(`▸ adoption: packing astro-cluster-kit into ${packDir}…`);
  const started = Date.now();
  await run('pnpm', ['--filter', 'astro-cluster-kit', 'pack', '--pack-destination', packDir], {
    cwd: repoRoot,
    env: repoEnv(systemNodeBinDir()),
    timeoutMs: minutes(5),
    progress: '▸ adoption: packing the kit',
  });
  const tarballs = readdirSync(packDir).filter((name) => /^astro-cluster-kit-.*\.tgz$/.test(name));
  assert.equal(tarballs.length, 1, `pnpm pack left ${tarballs.join(', ') || 'no tarball'} in ${packDir}`);
  kitTarball = path.join(packDir, tarballs[0]!);
  say(`▸ adoption: packed ${path.basename(kitTarball)} in ${seconds(started)}`);
}, { timeout: minutes(6) });

after(async () => {
  if (packDir && !keep) await rm(packDir, { recursive: true, force: true });
});

for (const entry of matrix) {
  describe(`adoption: astro ${entry.astroMajor} on node ${entry.label}`, () => {
    const log = (message: string) => say(`▸ adoption astro ${entry.astroMajor} on node ${entry.label}: ${message}`);
    const appName = 'astro-web';
    let dir: string | undefined;
    let repo: string;
    let binDir: string;
    let env: RepoEnv;
    let port: number;
    let url: string;
    let started = false;
    let adapter: ChildProcess | undefined;
    /** Names of the PM2 apps seen while the kit ran (all of this private daemon's). */
    const kitApps = new Set<string>([appName]);

    const sh = (file: string, args: string[], options: Partial<RunOptions> & { timeoutMs: number }) =>
      run(file, args, { cwd: repo, env, ...options });
    const pm2Home = () => env.PM2_HOME as string;
    const logsDir = () => env.LOGS_DIR as string;

    before(async () => {
      binDir = entry.node === 'system' ? systemNodeBinDir() : await nodeBinDir(entry.node);
      const version = (await run(path.join(binDir, 'node'), ['--version'], { cwd: os.tmpdir(), env: process.env, timeoutMs: 15_000 })).stdout.trim();
      const needed = astroVersions[entry.astroMajor].minNode;
      assert.ok(atLeast(version, needed), `astro ${entry.astroMajor} needs Node >= ${needed}; node ${entry.label} in ${binDir} is ${version}`);
      log(`node ${version} from ${binDir}`);

      dir = await mkdtemp(path.join(os.tmpdir(), `adoption-${entry.astroMajor}-${entry.label}-`));
      repo = path.join(dir, 'repo');
      await mkdir(repo);
      port = await freePort();
      url = `http://127.0.0.1:${port}`;
      env = repoEnv(binDir, {
        PM2_HOME: path.join(dir, 'pm2'),
        LOGS_DIR: path.join(dir, 'logs'),
        HOST: '127.0.0.1',
        PORT: String(port),
        WEB_INSTANCES: '2',
      });
      log(`writing the site into ${repo}`);
      await writeFixture(repo, { astroMajor: entry.astroMajor, kitTarball }, env);

      let since = Date.now();
      log(`installing (pnpm add -D -w ${path.basename(kitTarball)})…`);
      // What the README tells a user; also the repo's first install.
      await sh('pnpm', ['add', '-D', '-w', '--prefer-offline', path.relative(repo, kitTarball)], { timeoutMs: minutes(15), progress: `▸ adoption astro ${entry.astroMajor} on node ${entry.label}: installing` });
      log(`installed in ${seconds(since)}; running astro-cluster init --yes`);
      const init = await sh('pnpm', ['exec', 'astro-cluster', 'init', '--yes'], { timeoutMs: minutes(2) });
      log(`init: ${oneLine(init.output)}`);
      since = Date.now();
      log('installing again (init added pm2)…');
      // --no-frozen-lockfile: under CI=true pnpm would refuse the changed package.json.
      await sh('pnpm', ['install', '--prefer-offline', '--no-frozen-lockfile'], { timeoutMs: minutes(10), progress: `▸ adoption astro ${entry.astroMajor} on node ${entry.label}: installing again` });
      log(`installed in ${seconds(since)}`);
      await commitAll(repo, env, 'Add astro-cluster-kit');
    }, { timeout: minutes(30) });

    after(async () => {
      await stopAdapter(adapter);
      const daemon = daemonPid(pm2Home());
      if (daemon !== undefined) {
        process.kill(daemon, 'SIGTERM');
        await waitFor('the test PM2 daemon to exit', () => !isAlive(daemon), { timeoutMs: 20_000 }).catch(() => process.kill(daemon, 'SIGKILL'));
      }
      if (env?.LOGS_DIR) {
        for (const pid of kitProcesses(logsDir())) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
      }
      if (dir && keep) log(`kept ${dir}`);
      else if (dir) await rm(dir, { recursive: true, force: true });
    }, { timeout: minutes(2) });

    test('init writes the kit\'s files, adds pm2 and ignores logs/ and .astro-cluster/', () => {
      for (const file of ['astro-cluster.config.json', 'ecosystem.config.js', 'bin/start-pm2', 'bin/stop-pm2']) {
        assert.ok(existsSync(path.join(repo, file)), `init did not write ${file}`);
      }
      const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
      assert.ok(pkg.devDependencies?.pm2, `pm2 is not in the root devDependencies: ${JSON.stringify(pkg.devDependencies)}`);
      assert.ok(pkg.devDependencies?.['astro-cluster-kit'], 'astro-cluster-kit is not in the root devDependencies');
      const ignored = readFileSync(path.join(repo, '.gitignore'), 'utf8').split('\n').map((line) => line.trim());
      for (const line of ['node_modules', 'dist', '.astro']) assert.ok(ignored.includes(line), `init dropped ${line} from .gitignore`);
      for (const folder of ['logs', '.astro-cluster']) {
        assert.ok(ignored.some((line) => line === folder || line === `${folder}/` || line === `/${folder}/` || line === `/${folder}`), `.gitignore does not ignore ${folder}/:\n${ignored.join('\n')}`);
      }
      assert.ok(existsSync(path.join(repo, 'node_modules', 'pm2', 'package.json')), 'pm2 is not installed after the second pnpm install');
    });

    test('./bin/start-pm2 builds a release and starts 2 workers; the site\'s sources stay untouched', { timeout: minutes(12) }, async () => {
      log('starting the kit (./bin/start-pm2)…');
      const since = Date.now();
      const start = await sh(path.join(repo, 'bin', 'start-pm2'), [], { timeoutMs: minutes(10), allowFailure: true, progress: `▸ adoption astro ${entry.astroMajor} on node ${entry.label}: starting` });
      assert.equal(start.code, 0, `./bin/start-pm2 failed:\n${tail(start.output)}`);
      log(`started in ${seconds(since)}`);
      assert.ok(existsSync(path.join(repo, '.astro-cluster', 'releases')), 'no release under .astro-cluster/releases');

      const workers = await onlineWorkers(2);
      for (const app of await jlist()) kitApps.add(app.name);
      const pids = new Set(workers.map((w) => w.pid));
      const answered = new Map<number, Health>();
      await waitFor('every worker to answer /healthz', async () => {
        const res = await request(`${url}/healthz`);
        if (res.status !== 200) return undefined;
        const health = JSON.parse(res.body) as Health;
        assert.equal(health.status, 'ok');
        answered.set(health.pid, health);
        return answered.size >= pids.size && [...pids].every((pid) => answered.has(pid));
      }, { timeoutMs: 30_000 });
      assert.deepEqual(new Set(answered.keys()), pids, '/healthz answered from other pids than PM2 lists');
      assert.deepEqual(new Set([...answered.values()].map((h) => h.instance)), new Set([0, 1]));
      assert.equal(new Set([...answered.values()].map((h) => h.build)).size, 1, 'the workers serve different builds');

      const status = await sh('git', ['status', '--porcelain'], { timeoutMs: 30_000 });
      assert.equal(status.stdout, '', `start-pm2 changed the repo:\n${status.stdout}`);
      started = true;

      // The kit's status names the Astro version of the build it serves, as recorded when the release was made.
      const kitStatus = await sh(path.join(repo, 'node_modules', '.bin', 'astro-cluster'), ['status', '--json'], { timeoutMs: minutes(1), allowFailure: true });
      const report = JSON.parse(kitStatus.stdout) as { healthy: boolean; versions: { astro: string } };
      assert.equal(report.versions.astro, astroVersions[entry.astroMajor].astro, kitStatus.output);
      assert.equal(report.healthy, true, kitStatus.output);
    });

    test('serves what the adapter\'s own standalone server serves: status, bytes, content-type, middleware', { timeout: minutes(12) }, async () => {
      assert.ok(started, 'the kit did not start');
      log('building with the site\'s own build (pnpm --filter web build)…');
      const since = Date.now();
      await sh('pnpm', ['--filter', 'web', 'build'], { timeoutMs: minutes(10), progress: `▸ adoption astro ${entry.astroMajor} on node ${entry.label}: building` });
      log(`built in ${seconds(since)}; starting node apps/web/dist/server/entry.mjs`);
      const assets = path.join(repo, 'apps', 'web', 'dist', 'client', '_astro');
      const asset = existsSync(assets) ? readdirSync(assets).find((name) => name.endsWith('.css')) : undefined;
      assert.ok(asset, `no hashed stylesheet under ${assets}`);

      const adapterPort = await freePort();
      const adapterUrl = `http://127.0.0.1:${adapterPort}`;
      let output = '';
      // Not in the kit's environment (no LOGS_DIR, PM2_HOME): a plain run of the site.
      adapter = spawn(path.join(binDir, 'node'), [path.join('apps', 'web', 'dist', 'server', 'entry.mjs')], {
        cwd: repo,
        env: repoEnv(binDir, { HOST: '127.0.0.1', PORT: String(adapterPort) }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      adapter.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      adapter.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const server = adapter;
      try {
        await waitFor('the adapter\'s standalone server to answer', async () => {
          if (server.exitCode !== null || server.signalCode !== null) throw new Error(`it exited (${server.exitCode ?? server.signalCode}):\n${tail(output)}`);
          return (await fetchRaw(`${adapterUrl}/robots.txt`)).status > 0;
        }, { timeoutMs: 30_000, intervalMs: 200 });

        const paths = ['/', '/about/', '/robots.txt', '/api/tasks', '/no-such-page', `/_astro/${asset}`];
        const differences: string[] = [];
        const kitAnswers = new Map<string, RawResponse>();
        for (const p of paths) {
          const [own, kit] = [await fetchRaw(`${adapterUrl}${p}`), await fetchRaw(`${url}${p}`)];
          kitAnswers.set(p, kit);
          for (const [what, a, b] of [
            ['status', own.status, kit.status],
            ['content-type', own.headers['content-type'], kit.headers['content-type']],
            ['cache-control', own.headers['cache-control'], kit.headers['cache-control']],
            ['x-site-middleware', own.headers['x-site-middleware'], kit.headers['x-site-middleware']],
          ] as const) {
            if (a !== b) differences.push(`${p}: ${what} ${JSON.stringify(a)} from the adapter, ${JSON.stringify(b)} from the kit`);
          }
          // Byte for byte: the pages carry nothing build-specific (no dates,
          // no pids), and Vite's asset names are content hashes, so the kit's
          // build and the site's own build of the same sources must agree.
          if (!own.body.equals(kit.body)) {
            differences.push(`${p}: bodies differ (${own.body.length} bytes from the adapter, ${kit.body.length} from the kit)\n  adapter: ${preview(own.body)}\n  kit:     ${preview(kit.body)}`);
          }
        }
        assert.deepEqual(differences, [], `the kit serves the site differently:\n${differences.join('\n')}`);

        // And what they agree on is the site.
        const home = kitAnswers.get('/')!;
        assert.equal(home.status, 200);
        assert.equal(home.headers['x-site-middleware'], 'yes', 'the site\'s middleware did not run under the kit');
        assert.match(home.body.toString(), /Hello, cluster!/, 'the page did not use packages/core');
        assert.equal(kitAnswers.get('/about/')!.status, 200);
        assert.match(kitAnswers.get('/about/')!.body.toString(), /Built once, served as a file\./);
        assert.equal(kitAnswers.get('/robots.txt')!.body.toString(), 'User-agent: *\nAllow: /\n');
        assert.deepEqual(JSON.parse(kitAnswers.get('/api/tasks')!.body.toString()), { site: 'own tasks' }, 'the kit shadowed the site\'s /api/tasks');
        assert.equal(kitAnswers.get('/no-such-page')!.status, 404);
        assert.equal(kitAnswers.get(`/_astro/${asset}`)!.status, 200);
      } finally {
        await stopAdapter(server);
        adapter = undefined;
      }
    });

    test('pnpm exec pm2 reload under keep-alive load: 0 errors, 0 non-2xx, every worker replaced', { timeout: minutes(6) }, async () => {
      assert.ok(started, 'the kit did not start');
      const previous = new Set((await onlineWorkers(2)).map((w) => w.pid));
      let responses = 0;
      let finish!: (result: autocannon.Result) => void;
      let fail!: (error: Error) => void;
      const finished = new Promise<autocannon.Result>((resolve, reject) => ((finish = resolve), (fail = reject)));
      // A bound, not a goal: the load stops as soon as the reload is done.
      const load = autocannon({ url: `${url}/`, connections: 16, duration: 240 }, (error, result) => (error ? fail(error) : finish(result)));
      load.on('response', () => responses++);
      try {
        await waitFor('load to flow before the reload', () => responses > 300, { timeoutMs: 60_000 });
        log('pnpm exec pm2 reload under load…');
        const reload = await sh('pnpm', ['exec', 'pm2', 'reload', appName], { timeoutMs: minutes(3), allowFailure: true });
        assert.equal(reload.code, 0, `pm2 reload failed:\n${tail(reload.output)}`);
        const current = (await onlineWorkers(2, previous)).map((w) => w.pid);
        for (const pid of current) assert.ok(!previous.has(pid), `worker ${pid} was not replaced`);
        const mark = responses;
        await waitFor('load to flow after the reload', () => responses > mark + 300, { timeoutMs: 60_000 });
      } finally {
        load.stop();
      }
      const result = await finished;
      log(`${result.requests.total} requests during the reload: ${result.errors} errors, ${result.non2xx} non-2xx`);
      assert.ok(result.requests.total > 600, `only ${result.requests.total} requests: the load did not really run`);
      assert.equal(result.errors, 0, `${result.errors} failed requests`);
      assert.equal(result.timeouts, 0, `${result.timeouts} timeouts`);
      assert.equal(result.non2xx, 0, `${result.non2xx} non-2xx responses`);
    });

    test('sessions: one client\'s visit count goes 1, 2, 3… across workers', { timeout: minutes(2) }, async () => {
      assert.ok(started, 'the kit did not start');
      const jar = new CookieJar();
      const servedBy = new Set<string>();
      let visits = 0;
      // New connections, one after the other: round-robin alternates the
      // workers; go on (a little) until both served the same session.
      while (visits < 6 || (servedBy.size < 2 && visits < 20)) {
        const res = await jar.fetch(`${url}/visits`);
        const body = res.body.toString();
        assert.equal(res.status, 200, `GET /visits answered ${res.status}: ${body.slice(0, 300)}`);
        const count = /id="visits">(\d+)</.exec(body)?.[1];
        const pid = /id="pid">(\d+)</.exec(body)?.[1];
        assert.ok(count && pid, `GET /visits shows no count: ${body.slice(0, 300)}`);
        visits++;
        assert.equal(Number(count), visits, `visit ${visits} (worker ${pid}) counted ${count}`);
        servedBy.add(pid);
      }
      assert.ok(jar.get(sessionCookie), `no ${sessionCookie} cookie was set`);
      assert.ok(servedBy.size >= 2, `every visit went to worker ${[...servedBy].join(', ')}`);
    });

    test('events: 10 streams over both workers each get 100 events published on alternating connections, once, in order', { timeout: minutes(3) }, async () => {
      assert.ok(started, 'the kit did not start');
      const topic = `adoption-${entry.astroMajor}`;
      const feed = `${url}/api/feed/${topic}`;
      const clients = Array.from({ length: 10 }, () => new SseClient(feed));
      try {
        await Promise.all(clients.map((c) => c.opened()));
        assert.deepEqual(clients.map((c) => c.statuses[0]), Array(10).fill(200));
        const workers = new Set(clients.map((c) => c.workers[0]));
        assert.ok(!workers.has('?'), 'a stream came without an x-worker header');
        assert.ok(workers.size >= 2, `all 10 streams are on worker ${[...workers].join(', ')}`);

        const publish = async (data: unknown): Promise<string> => {
          const res = await request(feed, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(data) });
          assert.equal(res.status, 201, `POST ${feed} answered ${res.status}: ${res.body.slice(0, 300)}`);
          const { id } = JSON.parse(res.body) as { id: string | number };
          assert.ok(id !== undefined && id !== null, `publish answered no id: ${res.body}`);
          return String(id);
        };
        const received = (c: SseClient) => c.events.filter((e) => e.event === 'message');
        const got = (c: SseClient, kind: string) => received(c).some((e) => payload<Message>(e).kind === kind);

        // Every stream is listening once it got this.
        await publish({ kind: 'warm-up' });
        await waitFor('every stream to get the warm-up event', () => clients.every((c) => got(c, 'warm-up')), { timeoutMs: 30_000 });

        const ids: string[] = [];
        for (let n = 0; n < 100; n++) ids.push(await publish({ kind: 'event', n }));
        // Whatever a stream gets after this event, it got before it too: past it, nothing more can come.
        await publish({ kind: 'end' });
        await waitFor('every stream to get all 100 events', () => clients.every((c) => got(c, 'end')), { timeoutMs: 60_000 });

        for (const [i, c] of clients.entries()) {
          const events = received(c);
          const from = events.findIndex((e) => payload<Message>(e).kind === 'warm-up');
          const to = events.findIndex((e) => payload<Message>(e).kind === 'end');
          const between = events.slice(from + 1, to);
          assert.deepEqual(between.map((e) => payload<Message>(e).n), Array.from({ length: 100 }, (_, n) => n), `stream ${i} (worker ${c.workers[0]}) got these events`);
          assert.deepEqual(between.map((e) => e.id), ids, `stream ${i} (worker ${c.workers[0]}) got other ids than publish gave`);
          assert.equal(c.connections, 1, `stream ${i} reconnected`);
        }
      } finally {
        for (const c of clients) c.close();
      }
    });

    test('./bin/stop-pm2 stops every app and process of the kit', { timeout: minutes(3) }, async () => {
      assert.ok(started, 'the kit did not start');
      log('stopping (./bin/stop-pm2)…');
      const stop = await sh(path.join(repo, 'bin', 'stop-pm2'), [], { timeoutMs: minutes(2), allowFailure: true });
      assert.equal(stop.code, 0, `./bin/stop-pm2 failed:\n${tail(stop.output)}`);
      if (daemonPid(pm2Home()) !== undefined) {
        // As a user would look: the repo's pm2, against the same daemon.
        const listed = await sh('pnpm', ['exec', 'pm2', 'jlist'], { timeoutMs: minutes(1) });
        const left = parseJlist(listed.stdout).filter((app) => kitApps.has(app.name));
        assert.deepEqual(left.map((app) => `${app.name} ${app.pm2_env.status}`), [], 'PM2 still lists the kit\'s apps');
      }
      const remaining = await waitFor('every process of the kit to exit', () => {
        const pids = kitProcesses(logsDir());
        return pids.length === 0 ? pids : undefined;
      }, { timeoutMs: 30_000 }).catch(() => kitProcesses(logsDir()));
      assert.deepEqual(remaining.map(describeProcess), [], 'processes of the kit outlived stop-pm2');
    });

    interface Pm2App {
      name: string;
      pid: number;
      pm2_env: { status: string };
    }

    async function jlist(): Promise<Pm2App[]> {
      // Never against a daemon that is not running: `pm2 jlist` would start one.
      if (daemonPid(pm2Home()) === undefined) return [];
      const listed = await sh(path.join(repo, 'node_modules', '.bin', 'pm2'), ['jlist'], { timeoutMs: 60_000 });
      return parseJlist(listed.stdout);
    }

    async function onlineWorkers(count: number, exclude: ReadonlySet<number> = new Set()): Promise<Pm2App[]> {
      return waitFor(`${count} online ${appName} workers`, async () => {
        const online = (await jlist()).filter((w) => w.name === appName && w.pm2_env.status === 'online' && w.pid > 0 && !exclude.has(w.pid));
        return online.length === count ? online : undefined;
      }, { timeoutMs: 90_000, intervalMs: 500 });
    }
  });
}

interface Health {
  status: string;
  pid: number;
  instance: number;
  build: string;
}

interface Message {
  kind: string;
  n?: number;
}

function parseMatrix(text: string): MatrixEntry[] {
  return text.split(',').map((item) => item.trim()).filter(Boolean).map((item) => {
    const match = /^([567])@(system|22|24)$/.exec(item);
    if (!match) throw new Error(`ADOPTION_MATRIX: "${item}" is not <5|6|7>@<system|22|24>`);
    const node = match[2] === 'system' ? 'system' : (Number(match[2]) as 22 | 24);
    return { astroMajor: Number(match[1]) as AstroMajor, node, label: String(node) };
  });
}

function parseJlist(stdout: string): { name: string; pid: number; pm2_env: { status: string } }[] {
  // PM2 prints a banner first on a new PM2_HOME: take the line with the JSON.
  const line = stdout.split('\n').find((l) => l.startsWith('['));
  if (line === undefined) throw new Error(`pm2 jlist printed no list:\n${tail(stdout, 2_000)}`);
  return JSON.parse(line) as { name: string; pid: number; pm2_env: { status: string } }[];
}

function daemonPid(pm2Home: string | undefined): number | undefined {
  if (!pm2Home) return undefined;
  try {
    const pid = Number(readFileSync(path.join(pm2Home, 'pm2.pid'), 'utf8'));
    return pid > 0 && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function stopAdapter(child: ChildProcess | undefined): Promise<void> {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function describeProcess(pid: number): string {
  try {
    return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`;
  } catch {
    return String(pid);
  }
}

function atLeast(version: string, needed: string): boolean {
  const have = version.replace(/^v/, '').split('.').map(Number);
  const want = needed.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((have[i] ?? 0) !== (want[i] ?? 0)) return (have[i] ?? 0) > (want[i] ?? 0);
  }
  return true;
}

function seconds(since: number): string {
  return `${Math.round((Date.now() - since) / 1000)} s`;
}

function oneLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.length <= 1 ? (lines[0] ?? '(no output)') : `${lines[0]} … (${lines.length} lines)`;
}

function preview(body: Buffer): string {
  const text = body.toString('utf8');
  return JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}…` : text);
}
