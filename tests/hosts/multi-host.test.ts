import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import autocannon from 'autocannon';
import { isAlive, readSettings } from 'astro-cluster-kit/core';
import { openEventLog } from 'astro-cluster-kit/event-log';
import { freePort, request, type SimpleResponse } from '../helpers/http.js';
import { hostsBase, SimulatedHost, startDurableRedis, type DurableRedis } from '../helpers/hosts.js';
import { repoRoot } from '../helpers/kit.js';
import { startNginx, type RunningNginx } from '../helpers/nginx.js';
import { redisCommand } from '../helpers/redis.js';
import { readBacklog, SseClient } from '../helpers/sse.js';
import { allTasksEnded, assertRanOnce, taskHistory } from '../helpers/tasks.js';
import { waitFor } from '../helpers/wait.js';

// Two hosts, simulated on this machine (each a copy of the repo with its own
// LOGS_DIR, PM2_HOME and port, docs/multi-host.md), sharing one real
// redis-server, behind one real nginx on loopback whose configuration the
// kit wrote (astro-cluster proxy nginx). Host a runs the web cluster and the
// agents, host b the web cluster only, until the task test gives it the agents
// role too (its task-runner on standby under the Redis lease).
const token = 'multi-host-test-events-token';
const operatorPassword = 'multi-host-test-operator';
/** Streams per client per worker: above the 20 streams of the stream test, which all end up on host a. */
const streamsPerClient = 24;
/** The task test: a short lease and claim time, so that a killed runner's task is taken up within seconds. */
const taskCount = 200;
const leaseMs = 2000;
const claimIdleMs = 3000;
/** The task-runner's command, as the reference config names it. */
const runnerScript = 'apps/agents/src/task-runner.ts';
let base: string;
let redis: DurableRedis;
let a: SimulatedHost;
let b: SimulatedHost;
let nginx: RunningNginx;
let proxyPort: number;
let proxy: string;
/** The events the stream test published (and got 201 for), in order. */
let acknowledged: string[] = [];

interface Health {
  status: string;
  pid: number;
  build: string;
}

before(async () => {
  base = hostsBase();
  redis = await startDurableRedis();
  const secrets = { REDIS_URL: redis.url, EVENTS_TOKEN: token, OPERATOR_PASSWORD: operatorPassword, LOCK_LEASE_MS: String(leaseMs), TASK_CLAIM_IDLE_MS: String(claimIdleMs), TASK_STEP_MS: '1' };
  a = await SimulatedHost.create('a', base, secrets);
  b = await SimulatedHost.create('b', base, secrets);
  proxyPort = await freePort();
  proxy = `http://127.0.0.1:${proxyPort}`;
  const reference = JSON.parse(readFileSync(path.join(repoRoot, 'astro-cluster.config.json'), 'utf8')) as { agents: unknown };
  const hosts = [a, b].map((host) => ({
    name: host.name,
    url: host.url,
    dir: host.dir,
    ...(host === b && { roles: ['web'] }),
    env: { PM2_HOME: host.pm2Home, LOGS_DIR: host.logsDir },
  }));
  for (const host of [a, b]) {
    host.env.LOGS_DIR = host.logsDir;
    host.configure({
      logsDir: 'logs',
      hostName: host.name,
      roles: host === a ? ['web', 'agents'] : ['web'],
      site: { dir: 'apps/site', outDir: 'dist' },
      // One worker each: two hosts of one worker share this machine's cores with nginx, Redis and the test.
      web: { name: 'astro-web', instances: 1, host: '127.0.0.1', port: host.port, healthPath: '/healthz', trustedProxies: ['127.0.0.1'], maxStreamsPerClient: streamsPerClient },
      events: { backend: 'redis' },
      agents: reference.agents,
      hosts,
      proxy: { listen: `127.0.0.1:${proxyPort}`, failTimeoutS: 2 },
    });
  }
  for (const host of [a, b]) {
    const started = await host.run('start-pm2');
    assert.equal(started.code, 0, `${host.name}: ${started.output}`);
  }
  const prefix = path.join(base, 'nginx');
  const written = await a.kit(['proxy', 'nginx', '--main', '--out', path.join(prefix, 'nginx.conf')]);
  assert.equal(written.code, 0, written.output);
  nginx = await startNginx(prefix, proxyPort);
});

after(async () => {
  await nginx?.stop();
  for (const host of [a, b]) await host?.cleanup();
  await redis?.remove();
  if (base) rmSync(base, { recursive: true, force: true });
});

/** The build a host's worker serves, asked directly. */
async function buildOf(host: SimulatedHost): Promise<string> {
  return (JSON.parse((await request(`${host.url}/healthz`)).body) as Health).build;
}

/** Waits until nginx hands requests to both hosts (a host it counted as failed is left out for fail_timeout). */
async function bothInRotation(hosts: SimulatedHost[]): Promise<void> {
  const pids = await Promise.all(hosts.map(async (host) => (JSON.parse((await request(`${host.url}/healthz`)).body) as Health).pid));
  const seen = new Set<number>();
  await waitFor('nginx to hand requests to every host', async () => {
    const res = await request(`${proxy}/healthz`);
    if (res.status === 200) seen.add((JSON.parse(res.body) as Health).pid);
    return pids.every((pid) => seen.has(pid));
  });
}

/** The first hashed script a page links. */
function scriptOf(html: string): string {
  const match = /\/_astro\/[^"]+\.js/.exec(html);
  assert.ok(match, 'the page links a hashed script');
  return match[0];
}

/** One request from a chosen local address (127.0.0.x): a client other than nginx, as the worker sees it. */
function requestFrom(localAddress: string, url: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, localAddress, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Opens an event stream from a local address and answers its status; the response stays open until `close`. */
function streamFrom(localAddress: string, url: string, headers: Record<string, string>): Promise<{ status: number; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Accept: 'text/event-stream', ...headers }, localAddress, agent: false }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

async function publishOn(host: SimulatedHost, topic: string, data: unknown): Promise<string> {
  const res = await request(`${host.url}/api/events/${topic}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(data),
  });
  assert.equal(res.status, 201, `${host.name}: ${res.body}`);
  return (JSON.parse(res.body) as { id: string }).id;
}

test('two hosts behind nginx: both serve, roles as configured, bin/status lists both hosts with their release', { timeout: 60_000 }, async () => {
  await bothInRotation([a, b]);
  assert.equal((await request(`${proxy}/`)).status, 200);

  const status = await a.run('status', ['--json']);
  const json = JSON.parse(status.stdout) as { host: { name: string; roles: string[] }; hosts: { registry: string; list: { name: string; roles: string[]; release: string | null }[] }; agents: { supervisor: { state: string } } };
  assert.equal(status.code, 0, status.output);
  assert.deepEqual(json.host, { name: 'a', roles: ['web', 'agents'], outOfRotation: false });
  assert.equal(json.hosts.registry, 'redis');
  const build = await buildOf(a);
  assert.deepEqual(json.hosts.list.map((host) => [host.name, host.roles.join('+'), host.release]), [['a', 'web+agents', build], ['b', 'web', build]]);
  assert.equal(json.agents.supervisor.state, 'running', 'host a runs the agents');

  const statusB = await b.run('status', ['--json']);
  assert.equal(statusB.code, 0, `a web-only host without agents is healthy: ${statusB.output}`);
  const jsonB = JSON.parse(statusB.stdout) as typeof json;
  assert.notEqual(jsonB.agents.supervisor.state, 'running', 'host b starts no agents');
  assert.deepEqual(jsonB.hosts.list.map((host) => host.name), ['a', 'b']);
  assert.match((await b.run('status')).stdout, /^hosts \(redis\)\n\s+a\s+web\+agents\s+release \S+.*\n\s+b\s+web\s+release/m);
});

test('sessions: written through one host, read through the other and through nginx', { timeout: 30_000 }, async () => {
  const first = await request(`${a.url}/api/session/visits`, { method: 'POST', headers: { 'Content-Type': 'application/json' } });
  assert.equal(first.status, 200, first.body);
  const cookie = String(first.headers['set-cookie']).split(';')[0]!;
  const onB = await request(`${b.url}/api/session/visits`, { method: 'POST', headers: { cookie, 'Content-Type': 'application/json' } });
  assert.equal((JSON.parse(onB.body) as { visits: number }).visits, 2, 'host b reads what host a wrote');
  for (let visits = 3; visits <= 6; visits++) {
    const viaProxy = await request(`${proxy}/api/session/visits`, { method: 'POST', headers: { cookie, 'Content-Type': 'application/json' } });
    assert.equal((JSON.parse(viaProxy.body) as { visits: number }).visits, visits, 'through nginx, on whichever host');
  }
});

test('forwarded headers count only from the trusted proxy: a forged X-Forwarded-For or -Proto from elsewhere changes nothing', { timeout: 60_000 }, async () => {
  // Secure cookies: X-Forwarded-Proto: https believed from 127.0.0.1 (web.trustedProxies), not from 127.0.0.2.
  const post = { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Forwarded-Proto': 'https' } };
  assert.match(String((await requestFrom('127.0.0.1', `${a.url}/api/session/visits`, post)).headers['set-cookie']), /; Secure/i);
  assert.doesNotMatch(String((await requestFrom('127.0.0.2', `${a.url}/api/session/visits`, post)).headers['set-cookie']), /; Secure/i);
  // Through nginx the header is nginx's own ($scheme, http here), whatever the client sent.
  assert.doesNotMatch(String((await request(`${proxy}/api/session/visits`, post)).headers['set-cookie']), /; Secure/i);

  // Per-client stream caps: from an untrusted address every forged X-Forwarded-For is the same client.
  const url = `${a.url}/api/events/forwarded-check`;
  const forged = [];
  for (let i = 0; i < streamsPerClient; i++) forged.push(await streamFrom('127.0.0.2', url, { 'X-Forwarded-For': `198.51.100.${i + 1}` }));
  const refused = await streamFrom('127.0.0.2', url, { 'X-Forwarded-For': '198.51.100.250' });
  assert.deepEqual([...new Set(forged.map((s) => s.status))], [200]);
  assert.equal(refused.status, 429, 'the forged addresses did not make it another client');
  // From the trusted proxy's address, X-Forwarded-For names the client: the same count of other clients passes.
  const trusted = [];
  for (let i = 0; i <= streamsPerClient; i++) trusted.push(await streamFrom('127.0.0.1', url, { 'X-Forwarded-For': `203.0.113.${i + 1}` }));
  assert.deepEqual([...new Set(trusted.map((s) => s.status))], [200]);
  for (const stream of [...forged, refused, ...trusted]) stream.close();
});

test('a rolling deploy and a rollback across both hosts under keep-alive load through nginx: 0 failed requests, each host serves the other build\'s assets', { timeout: 420_000 }, async (t) => {
  const oldBuild = await buildOf(a);
  assert.equal(await buildOf(b), oldBuild);
  const oldScript = scriptOf((await request(`${proxy}/`)).body);

  let responses = 0;
  let finish!: (result: autocannon.Result) => void;
  const finished = new Promise<autocannon.Result>((resolve) => (finish = resolve));
  const load = autocannon(
    // A bound, not a goal: the load stops as soon as the deploy and the rollback are done.
    { url: proxy, connections: 8, duration: 400, requests: [{ path: '/' }, { path: '/healthz' }, { path: '/guides?q=reload' }, { path: oldScript }] },
    (error, result) => (error ? assert.fail(error) : finish(result)),
  );
  load.on('response', () => responses++);
  const failures: string[] = [];
  load.on('reqError', (error: Error) => failures.push(`${new Date().toISOString()} ${error.message}`));
  const halfway: { newScript?: string } = {};
  let newBuild = '';
  try {
    await waitFor('load flowing through nginx', () => responses > 200);
    // While host a serves the new build and host b the old one, each serves the other's assets.
    let deploying = true;
    const watch = waitFor('host a switched while host b was not (or the deploy over)', async () => {
      if (!deploying) return { seen: false as const };
      if ((await buildOf(a)) === oldBuild || (await buildOf(b)) !== oldBuild) return undefined;
      const newScript = scriptOf((await request(`${a.url}/`)).body);
      const onB = (await request(`${b.url}${newScript}`)).status;
      const onA = (await request(`${a.url}${oldScript}`)).status;
      // Still in the window: what was seen holds for that moment.
      return (await buildOf(b)) === oldBuild ? { seen: true as const, newScript, onB, onA } : undefined;
    }, { timeoutMs: 400_000, intervalMs: 50 });
    const deployStarted = Date.now();
    const deployed = await a.run('deploy', ['--hosts']);
    const deployMs = Date.now() - deployStarted;
    deploying = false;
    const seen = await watch;
    assert.equal(deployed.code, 0, deployed.output);
    assert.ok(seen.seen, 'the test saw host a on the new build while host b was on the old one');
    assert.notEqual(seen.newScript, oldScript, 'the new build links another script');
    assert.equal(seen.onB, 200, 'host b, still on the old build, serves the new page\'s script');
    assert.equal(seen.onA, 200, 'host a, on the new build, serves the old page\'s script');
    halfway.newScript = seen.newScript;
    newBuild = /deployed release (\S+) on 2 host\(s\) \(a, b\)/.exec(deployed.stdout)?.[1] ?? '';
    assert.ok(newBuild, deployed.stdout);
    assert.match(deployed.stdout, /\[b\] .*received release/);
    assert.equal(await buildOf(a), newBuild);
    assert.equal(await buildOf(b), newBuild);

    const mark = responses;
    await waitFor('load after the deploy', () => responses > mark + 200);
    const rollbackStarted = Date.now();
    const rolled = await a.run('deploy', ['--hosts', '--rollback']);
    t.diagnostic(`deploy --hosts ${(deployMs / 1000).toFixed(1)} s (build included), rollback --hosts ${((Date.now() - rollbackStarted) / 1000).toFixed(1)} s`);
    assert.equal(rolled.code, 0, rolled.output);
    assert.match(rolled.stdout, new RegExp(`rolled back release ${oldBuild} on 2 host`));
    for (const host of [a, b]) {
      assert.equal(await buildOf(host), oldBuild);
      assert.equal((await request(`${host.url}${halfway.newScript!}`)).status, 200, `${host.name} still serves the newer build's script`);
    }
    const after = responses;
    await waitFor('load after the rollback', () => responses > after + 200);
  } finally {
    load.stop();
  }
  const result = await finished;
  t.diagnostic(`through nginx: ${result.requests.total} requests, ${result.errors} errors, ${result.non2xx} non-2xx, p99 ${result.latency.p99} ms`);
  assert.ok(result.requests.total > 1000, `only ${result.requests.total} requests: the load did not really run`);
  // nginx's whole error log goes to a file that outlives the test: it says which host failed when.
  const saved = path.join(os.tmpdir(), `kit-multi-host-nginx-${process.pid}.log`);
  if (result.errors + result.non2xx > 0) writeFileSync(saved, nginx.errorLog());
  const why = `\n${failures.join('\n')}\nnginx's error log in ${saved}; its last lines:\n${nginx.errorLog().split('\n').slice(-15).join('\n')}`;
  assert.equal(result.errors, 0, `${result.errors} failed requests (${result.timeouts} timeouts)${why}`);
  assert.equal(result.non2xx, 0, `${result.non2xx} non-2xx responses${why}`);
  for (const host of [a, b]) assert.ok(!existsSync(path.join(host.logsDir, 'run', 'out-of-rotation.json')), `${host.name} is back in rotation`);
});

test('200 tasks posted through nginx run exactly once across both hosts, one of them across a SIGKILL of its runner', { timeout: 150_000 }, async (t) => {
  // Host b gets the agents role too: its task-runner waits on standby while host a's holds the lease.
  const standby = await b.run('mh', ['start', 'task-runner'], { ASTRO_CLUSTER_ROLES: 'web,agents' });
  assert.equal(standby.code, 0, standby.output);
  assert.match(standby.stdout, /task-runner on standby/);
  const log = openEventLog(readSettings({ ...a.env, EVENTS_BACKEND: 'redis' }, a.dir));
  try {
    // With the events token: no per-session rate limit, and any task may be read.
    const ids: string[] = [];
    for (let i = 0; i < taskCount; i++) {
      const res = await request(`${proxy}/api/tasks`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ prompt: `task number ${i} of ${taskCount}` }) });
      assert.equal(res.status, 202, res.body);
      ids.push((JSON.parse(res.body) as { id: string }).id);
    }

    // The runner takes the tasks in order: the first one not done is the one under way. Its command is killed
    // a few steps into that task (a kill that lands after its last step is tried again on the next one).
    let victim: { id: string; host: SimulatedHost; pid: number } | undefined;
    let first = 0;
    for (let attempt = 0; attempt < 3 && !victim; attempt++) {
      victim = await waitFor('a task under way, and its runner killed', async () => {
        const host = [a, b].find((h) => h.processesRunning(runnerScript).length === 1);
        if (!host) return undefined;
        while (first < ids.length && (await taskHistory(log, ids[first]!)).some((e) => e.type === 'done')) first++;
        const id = ids[first];
        if (id === undefined || first < 10) return undefined;
        // A few steps in: it has started and published progress.
        if ((await taskHistory(log, id)).filter((e) => e.type === 'progress').length < 2) return undefined;
        const [pid] = host.processesRunning(runnerScript) as [number];
        process.kill(pid, 'SIGKILL');
        await waitFor('the killed runner to exit', () => !isAlive(pid));
        return { id, host, pid, ended: (await taskHistory(log, id)).some((e) => e.type === 'done') };
      }, { timeoutMs: 60_000, intervalMs: 20 }).then((kill) => (kill.ended ? undefined : kill));
    }
    assert.ok(victim, 'a runner was killed mid-task');
    t.diagnostic(`task-runner pid ${victim.pid} SIGKILLed on host ${victim.host.name} during task ${victim.id} (${first} tasks done before it)`);

    const began = Date.now();
    await allTasksEnded(log, ids, 90_000);
    t.diagnostic(`${taskCount} tasks done ${Date.now() - began} ms after the kill (claim idle ${claimIdleMs} ms, lease ${leaseMs} ms)`);
    const runners = new Map<number, number>();
    for (const id of ids) {
      const events = await taskHistory(log, id);
      assertRanOnce(id, events, id === victim.id);
      const by = (events.find((e) => e.type === 'started') as { by: number }).by;
      runners.set(by, (runners.get(by) ?? 0) + 1);
    }
    t.diagnostic(`tasks started per runner pid: ${JSON.stringify(Object.fromEntries(runners))}`);
    const reclaimed = assertRanOnce(victim.id, await taskHistory(log, victim.id), true);
    assert.equal(reclaimed.length, 1, `task ${victim.id} reported reclaimed once`);
    assert.equal(reclaimed[0]!.from, `${victim.host.name}:task-runner`);
    assert.notEqual(reclaimed[0]!.by, victim.pid);
    assert.ok(reclaimed[0]!.step >= 2, `taken up where the killed runner left it, not from the start (step ${reclaimed[0]!.step})`);
    // Every task acknowledged, and one task-runner command across both hosts.
    assert.match(await redisCommand(redis.port, 'XPENDING', 'kit:events:tasks', 'task-runner'), /^\*4\r\n:0\r\n/);
    const commands = [a, b].map((h) => h.processesRunning(runnerScript));
    assert.equal(commands.flat().length, 1, `task-runner commands on a and b: ${JSON.stringify(commands)}`);
    assert.equal(reclaimed[0]!.by, commands.flat()[0], 'the runner that took the task up is the one running now');
    t.diagnostic(`task ${victim.id} taken up at step ${reclaimed[0]!.step} by pid ${reclaimed[0]!.by} on host ${commands[0]!.length > 0 ? 'a' : 'b'}`);
  } finally {
    await log.close();
  }
});

test('20 streams through nginx get 300 events published on either host, each once and in order, and resume exactly when their host stops', { timeout: 180_000 }, async () => {
  const topic = 'multi-host';
  // Right after the rollback nginx may still leave host b out (its 503s while out of rotation): wait for both.
  await bothInRotation([a, b]);
  const clients = Array.from({ length: 20 }, () => new SseClient(`${proxy}/api/events/${topic}`, { reconnect: true }));
  await Promise.all(clients.map((client) => client.opened()));
  await waitFor('20 streams subscribed', () => clients.every((client) => client.events.some((e) => e.event === 'caught-up')));

  const published: string[] = [];
  for (let n = 0; n < 150; n++) published.push(await publishOn(n % 2 === 0 ? a : b, topic, { n }));
  await waitFor('150 events on every stream', () => clients.every((client) => client.ids().length >= 150), { timeoutMs: 60_000 });

  // Host b goes: its streams drain, reconnect through nginx with Last-Event-ID, and land on host a.
  const stopped = await b.run('stop-pm2');
  assert.equal(stopped.code, 0, stopped.output);
  for (let n = 150; n < 300; n++) published.push(await publishOn(a, topic, { n }));
  await waitFor('300 events on every stream', () => clients.every((client) => client.ids().length >= 300), { timeoutMs: 90_000 });
  const reconnected = clients.filter((client) => client.connections > 1).length;
  for (const [index, client] of clients.entries()) {
    assert.deepEqual(client.ids(), published, `stream ${index} (${client.connections} connection(s)): every event once, in order`);
    client.close();
  }
  assert.ok(reconnected >= 5, `the streams on host b resumed on host a: ${reconnected} of 20 reconnected`);
  acknowledged = published;
});

test('Redis away: pages still served through nginx, streams and publishing say unavailable; back: nothing acknowledged is lost', { timeout: 120_000 }, async () => {
  const topic = 'multi-host';
  assert.equal(acknowledged.length, 300, 'the stream test ran first');
  await redis.stop();
  for (let i = 0; i < 5; i++) assert.equal((await request(`${proxy}/`)).status, 200, 'a page without Redis');
  let status = 0;
  await waitFor('a stream through nginx to answer 503', async () => {
    const stream = await streamFrom('127.0.0.1', `${proxy}/api/events/${topic}`, {});
    stream.close();
    status = stream.status;
    return status === 503;
  }, { timeoutMs: 30_000 }).catch((error: Error) => assert.fail(`${error.message} (last: ${status})`));
  for (let i = 0; i < 5; i++) assert.equal((await request(`${proxy}/`)).status, 200, 'pages, after streams answered 503');
  const refused = await request(`${a.url}/api/events/${topic}`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{"n":-1}' });
  assert.equal(refused.status, 503, refused.body);
  assert.match(refused.body, /not available/);

  await redis.start();
  const back = await waitFor('the stream back, with every acknowledged event', async () => {
    const client = await readBacklog(`${proxy}/api/events/${topic}`, acknowledged[0]!, 10_000);
    return client.statuses[0] === 200 ? client : undefined;
  }, { timeoutMs: 60_000 });
  assert.deepEqual(back.ids(), acknowledged.slice(1), 'every event acknowledged before Redis went away');
});
