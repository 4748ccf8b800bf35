// `pnpm bench`: measures the kit on this machine, on loopback, bounded in
// time, and writes LOGS_DIR/bench/bench-<time>.{json,md} (and latest.*, and
// a chart). BENCH_QUICK=1 is a short run for CI smoke; the README's table
// comes from a full run. It reuses the test harness: a private PM2_HOME and
// LOGS_DIR for the cluster, cleaned up by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { readSettings } from 'astro-cluster-kit/core';
import { freePort, request } from '../helpers/http.js';
import { repoRoot, TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';
import { ensureFreshBuild } from '../setup/site-build.js';
import { backgroundLoad, load, type LoadResult } from './load.js';
import { markdown, throughputChart, type BenchResults, type Throughput } from './report.js';
import { fanoutLatency, holdStreams, rssBytes } from './sse.js';
import { benchEventsToken } from './token.js';

const quick = process.env.BENCH_QUICK === '1';
const plan = quick
  ? { seconds: 2, connections: 16, streams: 300, latencyStreams: 20, latencyEvents: 20, reloads: 1 }
  : { seconds: 10, connections: 32, streams: 20_000, latencyStreams: 100, latencyEvents: 100, reloads: 3 };
const cores = os.cpus().length;
const page = '/guides?q=reload';
const outDir = path.join(readSettings().logsDir, 'bench');
const siteDir = path.join(repoRoot, '.astro-cluster', 'current');

function step(text: string): void {
  console.log(`▸ ${text}`);
}

async function main(): Promise<BenchResults> {
  await ensureFreshBuild();
  const throughput: Throughput[] = [];

  step('the adapter\'s own standalone server (one process, no kit)');
  throughput.push(await single('adapter standalone', [path.join(siteDir, 'server', 'entry.mjs')], false));
  step('the kit\'s server, one process, no PM2');
  throughput.push(await single('kit server, 1 process', [path.join(repoRoot, 'packages', 'kit', 'dist', 'web', 'main.js')], true));

  // The held streams all come from this one process, on one address: the per-client cap (there to stop a
  // flood from one client) would refuse all but the first few dozen.
  const kit = await TestKit.create({ instances: cores, env: { WEB_MAX_MEMORY: '4G', DRAIN_TIMEOUT_MS: '5000', MAX_STREAMS_PER_CLIENT: String(plan.streams + 1000) } });
  try {
    step(`cold start: bin/start-pm2 with ${cores} workers, from no PM2 daemon`);
    const began = Date.now();
    const started = await kit.run('start-pm2', ['--no-agents']);
    if (started.code !== 0) throw new Error(`start-pm2 failed:\n${started.output}`);
    const coldStart = { workers: cores, seconds: round((Date.now() - began) / 1000) };

    const pids = async () => [(kit.daemonPid() ?? 0), ...(await kit.workers()).map((w) => w.pid)];
    step('PM2 cluster, 1 worker');
    assertOk(await kit.run('start-pm2', ['--no-agents'], { WEB_INSTANCES: '1' }));
    await kit.onlineWorkers(1);
    throughput.push(await measure('PM2 cluster, 1 worker', 1, kit.url, await pids(), true));
    step(`PM2 cluster, ${cores} workers`);
    assertOk(await kit.run('start-pm2', ['--no-agents']));
    await kit.onlineWorkers(cores);
    throughput.push(await measure(`PM2 cluster, ${cores} workers`, cores, kit.url, await pids(), true));

    step(`${plan.reloads} pm2 reload(s) under keep-alive load`);
    const reload = await reloadsUnderLoad(kit);
    step('bin/deploy under keep-alive load');
    const deploy = await deployUnderLoad(kit);
    step(`event streams: holding ${plan.streams} across ${cores} workers`);
    const sse = await streams(kit);

    return {
      when: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      quick,
      machine: machine(),
      note: 'The load generator (autocannon, and the stream clients) runs on the same machine and takes CPU from the servers: absolute numbers are lower than on a dedicated client, ratios are what to read.',
      throughput,
      coldStart,
      reload,
      deploy,
      sse,
    };
  } finally {
    await kit.cleanup();
  }
}

/** A one-process server on a free port, measured, then stopped. */
async function single(setup: string, args: string[], kit: boolean): Promise<Throughput> {
  const port = await freePort();
  const logs = path.join(os.tmpdir(), `kit-bench-${process.pid}`);
  const env: NodeJS.ProcessEnv = { ...process.env, ASTRO_CLUSTER_ROOT: repoRoot, HOST: '127.0.0.1', PORT: String(port), LOGS_DIR: logs, NODE_ENV: 'production', ASTRO_NODE_LOGGING: 'disabled' };
  delete env.NODE_APP_INSTANCE;
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`${setup} to answer`, async () => (await request(`${base}/`)).status === 200);
    return await measure(setup, 1, base, [child.pid!], kit);
  } finally {
    await stop(child);
  }
}

async function measure(setup: string, workers: number, base: string, serverPids: number[], healthz: boolean): Promise<Throughput> {
  const options = { connections: plan.connections, seconds: plan.seconds, serverPids: () => serverPids };
  const pageResult = await load(base, page, options);
  const healthzResult: LoadResult | undefined = healthz ? await load(base, '/healthz', options) : undefined;
  console.log(`  ${setup}: page ${pageResult.reqPerSec} req/s${healthzResult ? `, /healthz ${healthzResult.reqPerSec} req/s` : ''}`);
  return { setup, workers, page: pageResult, healthz: healthzResult };
}

async function reloadsUnderLoad(kit: TestKit): Promise<BenchResults['reload']> {
  const secondsEach: number[] = [];
  const result = await underLoad(async () => {
    let previous = new Set((await kit.onlineWorkers(cores)).map((w) => w.pid));
    for (let i = 0; i < plan.reloads; i++) {
      const began = Date.now();
      assertOk(await kit.pm2(['reload', path.join(repoRoot, 'ecosystem.config.js')]));
      previous = new Set((await kit.onlineWorkers(cores, previous)).map((w) => w.pid));
      secondsEach.push(round((Date.now() - began) / 1000));
    }
  }, kit.url);
  return { reloads: plan.reloads, secondsEach, requests: result.requests, failed: result.errors + result.non2xx };
}

async function deployUnderLoad(kit: TestKit): Promise<BenchResults['deploy']> {
  const began = Date.now();
  const result = await underLoad(async () => assertOk(await kit.run('deploy')), kit.url);
  return { seconds: round((Date.now() - began) / 1000), requests: result.requests, failed: result.errors + result.non2xx };
}

/** Runs `action` while keep-alive load runs on the page and /healthz; the load's outcome. */
async function underLoad(action: () => Promise<void>, base: string) {
  const background = backgroundLoad(base, [page, '/healthz'], plan.connections);
  try {
    await waitFor('load flowing', () => background.responses() > 200);
    await action();
  } catch (error) {
    await background.stop();
    throw error;
  }
  return background.stop();
}

async function streams(kit: TestKit): Promise<BenchResults['sse']> {
  const token = benchEventsToken(kit.logsDir);
  const workerPids = (await kit.onlineWorkers(cores)).map((w) => w.pid);
  const rate = quick ? 20 : 10;
  step(`fan-out latency with no other stream open: ${plan.latencyEvents} events to ${plan.latencyStreams} streams`);
  const idle = await fanoutLatency(kit, token, 'bench-idle', plan.latencyStreams, plan.latencyEvents, rate);

  step(`event streams: holding ${plan.streams} across ${cores} workers`);
  const before = rssBytes(workerPids);
  let shown = 0;
  const held = await holdStreams(`${kit.url}/api/events/bench-held`, plan.streams, 5000, (established) => {
    if (established - shown >= Math.max(100, plan.streams / 10)) {
      shown = established;
      console.log(`  … ${established} streams established`);
    }
  });
  try {
    const memoryPerStreamKiB = held.established > 0 ? round((rssBytes(workerPids) - before) / held.established / 1024) : 0;
    console.log(`  ${held.established} established, ${held.failed} failed, ${memoryPerStreamKiB} KiB each`);
    step(`fan-out latency with them held: ${plan.latencyEvents} events to ${plan.latencyStreams} more streams, and to every held one`);
    const loaded = await fanoutLatency(kit, token, 'bench-held', plan.latencyStreams, plan.latencyEvents, rate);
    return { target: plan.streams, established: held.established, failed: held.failed, memoryPerStreamKiB, workers: cores, idle, latency: loaded };
  } finally {
    held.close();
  }
}

function machine(): BenchResults['machine'] {
  const version = (from: string, name: string) => (JSON.parse(readFileSync(createRequire(from).resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
  return {
    cores,
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    kernel: os.release(),
    node: process.versions.node,
    pm2: version(path.join(repoRoot, 'package.json'), 'pm2'),
    astro: version(path.join(repoRoot, 'apps', 'site', 'package.json'), 'astro'),
  };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

function assertOk(result: { code: number; output: string }): void {
  if (result.code !== 0) throw new Error(result.output);
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

const results = await main();
mkdirSync(outDir, { recursive: true });
const stamp = results.when.replace(/[-:]/g, '');
const report = markdown(results);
for (const [name, content] of [
  [`bench-${stamp}.json`, `${JSON.stringify(results, null, 2)}\n`],
  [`bench-${stamp}.md`, report],
  ['latest.json', `${JSON.stringify(results, null, 2)}\n`],
  ['latest.md', report],
  ['throughput.svg', throughputChart(results)],
] as const) {
  writeFileSync(path.join(outDir, name), content);
}
console.log(`\n${report}\nwritten to ${outDir} (bench-${stamp}.json, .md, latest.*, throughput.svg)`);
