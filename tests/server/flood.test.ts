import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { isAlive } from 'astro-cluster-kit/core';
import { request, type SimpleResponse } from '../helpers/http.js';
import { repoRoot, TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

// The stream flood under a low open-file limit. Found on this kit: with the
// PM2 daemon and its workers under `ulimit -n 1024`, about 2,000 held event
// streams took the workers to their open-file limit; from then on the daemon
// accepted connections and never handed them to a worker, and /healthz stayed
// dead after the client left. Here the daemon and both workers run under
// 1024, four flood clients (each from its own loopback address, so the share
// per client is not what stops them) try to hold 4 × 700 streams on a public
// topic. The caps derived from the worker's own limit (MAX_CONNECTIONS,
// MAX_STREAMS) must refuse the excess with 503/429 and Retry-After while
// /healthz and pages still answer, and the cluster must be whole again once
// the flood leaves.
const fileLimit = 1024;
const perClient = 700;
const addresses = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
let kit: TestKit;
const floods: ChildProcess[] = [];

before(async () => {
  // The per-address share is raised so that the caps derived from the open-file limit are what the flood meets.
  kit = await TestKit.create({ instances: 2, env: { MAX_STREAMS_PER_CLIENT: '100000' } });
  // A fresh PM2_HOME: this command starts the daemon, which (and whose workers) inherit the limit.
  const started = await new Promise<{ code: number; output: string }>((resolve) => {
    const child = spawn('bash', ['-c', `ulimit -n ${fileLimit} && exec "$0" "$@"`, path.join(repoRoot, 'bin', 'start-pm2'), '--no-agents'], {
      env: kit.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output });
    });
  });
  assert.equal(started.code, 0, started.output);
});

after(async () => {
  for (const child of floods) if (child.pid && isAlive(child.pid)) child.kill('SIGKILL');
  await kit?.cleanup();
});

function openFiles(pid: number): number {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  assert.ok(line, `no open-file limit for ${pid}`);
  return Number(line.split(/\s{2,}/)[1]);
}

/** Open descriptors of a process: one entry each in /proc/<pid>/fd. */
function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

interface FloodReport {
  localAddress: string;
  held: number;
  refused503: number;
  refused429: number;
  refusedWithoutRetryAfter: number;
  otherStatus: number;
  failed: number;
  timeouts: number;
  attempts: number;
  ms: number;
  errors: Record<string, number>;
}

/** Starts one flood client and resolves with its report once it has opened what it could (it keeps holding). */
function flood(address: string): Promise<FloodReport> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'tests', 'server', 'flood-client.mjs'), `${kit.url}/api/events/public-flood`, String(perClient), address, '20', '60000', '180000'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  floods.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const newline = out.indexOf('\n');
      if (newline !== -1) resolve(JSON.parse(out.slice(0, newline)) as FloodReport);
    });
    child.on('exit', (code) => reject(new Error(`flood client ${address} exited (${code}) before reporting`)));
  });
}

/** A request on a new connection that must answer within 10 s (request() times out there). */
function answered(url: string): Promise<SimpleResponse> {
  return request(url);
}

test(`under ulimit -n ${fileLimit}, a flood of ${addresses.length} × ${perClient} streams is refused in time, /healthz and pages answer, and the cluster is whole after`, { timeout: 300_000 }, async () => {
  const workers = await kit.onlineWorkers(2);
  const daemon = kit.daemonPid();
  assert.ok(daemon, 'the daemon runs');
  assert.equal(openFiles(daemon), fileLimit, 'the PM2 daemon runs under the low limit');
  for (const worker of workers) assert.equal(openFiles(worker.pid), fileLimit, `worker ${worker.pid} runs under the low limit`);
  const caps = await request(`${kit.url}/api/stats`, { headers: kit.auth() });
  console.log(`# a worker's caps and counts: ${caps.body.slice(0, 400)}`);

  const reports = await Promise.all(addresses.map(flood));
  const total = reports.reduce(
    (sum, r) => ({ held: sum.held + r.held, r503: sum.r503 + r.refused503, r429: sum.r429 + r.refused429, noRetry: sum.noRetry + r.refusedWithoutRetryAfter, other: sum.other + r.otherStatus, failed: sum.failed + r.failed, timeouts: sum.timeouts + r.timeouts, attempts: sum.attempts + r.attempts }),
    { held: 0, r503: 0, r429: 0, noRetry: 0, other: 0, failed: 0, timeouts: 0, attempts: 0 },
  );
  console.log(`# flood: ${total.attempts} attempts, ${total.held} streams held, ${total.r503} refused 503, ${total.r429} refused 429 (${total.noRetry} without Retry-After), ${total.other} other statuses, ${total.failed} failed, ${total.timeouts} timed out`);
  for (const r of reports) console.log(`#   ${r.localAddress}: ${JSON.stringify({ ...r, localAddress: undefined })}`);
  console.log(`# open descriptors: daemon ${openFds(daemon)}, workers ${workers.map((w) => `${w.pid}=${openFds(w.pid)}`).join(' ')}`);

  // While the flood holds its streams: health and pages still answer, on new connections, in time.
  const health: SimpleResponse[] = [];
  for (let i = 0; i < 6; i++) health.push(await answered(`${kit.url}/healthz`));
  const page = await answered(`${kit.url}/`);
  console.log(`# while held: /healthz ${health.map((h) => h.status).join(' ')}, / ${page.status}`);
  assert.ok(health.every((h) => h.status === 200), `healthz: ${health.map((h) => h.status)}`);
  assert.equal(page.status, 200);

  assert.ok(total.held > 0, 'the flood held streams');
  assert.equal(total.held + total.r503 + total.r429 + total.other + total.failed + total.timeouts, total.attempts);
  assert.ok(total.r503 + total.r429 > 0, 'past the caps, streams are refused');
  assert.equal(total.noRetry, 0, 'every refusal says when to retry');
  assert.equal(total.timeouts, 0, 'no stream request was left hanging');
  assert.equal(total.failed, 0, 'no stream request failed at the socket');

  // The flood leaves: every client ends (stdin closed), by pid if it lingers.
  for (const child of floods) child.stdin!.end();
  await waitFor('the flood clients to exit', () => floods.every((c) => c.exitCode !== null || c.signalCode !== null), { timeoutMs: 30_000 });

  // Whole again within 30 s: both workers answer /healthz, and status says healthy.
  const pids = new Set((await kit.onlineWorkers(2)).map((w) => w.pid));
  const heard = new Set<number>();
  await waitFor(
    'both workers to answer /healthz',
    async () => {
      const res = await request(`${kit.url}/healthz`);
      if (res.status === 200) heard.add((JSON.parse(res.body) as { pid: number }).pid);
      return [...pids].every((pid) => heard.has(pid));
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  const status = await kit.run('status', ['--json']);
  assert.equal(status.code, 0, status.output);
  assert.equal((JSON.parse(status.stdout) as { healthy: boolean }).healthy, true, status.stdout);
  console.log(`# after: both workers answer /healthz (${[...heard].join(', ')}), status healthy`);
});
