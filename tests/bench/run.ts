// `pnpm bench`: measures the kit on this machine, on loopback, bounded in
// time, and writes LOGS_DIR/bench/bench-<time>.{json,md} (and latest.*, and
// a chart). BENCH_QUICK=1 is a short run for CI smoke; the README's table
// comes from a full run. It reuses the test harness: a private PM2_HOME and
// LOGS_DIR for the cluster, cleaned up by pid.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { readSettings } from 'astro-cluster-kit/core';
import { freePort, request } from '../helpers/http.js';
import { repoRoot, TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';
import { ensureFreshBuild } from '../setup/site-build.js';
import { backgroundLoad, load, type LoadResult } from './load.js';
import { startRedis } from '../helpers/redis.js';
import { compareRuns } from './compare.js';
import { markdown, throughputChart, type BenchResults, type ScaleRun, type ScalingRow, type StreamRow, type Throughput } from './report.js';
import { idleStreamMemory, medianOf, type IdleMemory, type IdleMemorySummary } from './idle-memory.js';
import { oneProcessEnv, startBareServer, stopChild } from './processes.js';
import { fanoutLatency, holdStreams, openFileLimit, publishOver, settledRssBytes } from './sse.js';
import { benchEventsToken } from './token.js';

if (process.argv[2] === '--compare') {
  const [a, b] = process.argv.slice(3);
  if (!a || !b) throw new Error('usage: pnpm bench --compare A.json B.json');
  console.log(compareRuns(JSON.parse(readFileSync(a, 'utf8')) as BenchResults, JSON.parse(readFileSync(b, 'utf8')) as BenchResults, a, b));
  process.exit(0);
}

const quick = process.env.BENCH_QUICK === '1';
const cores = os.cpus().length;
const plan = quick
  ? { seconds: 2, connections: 16, streams: 300, latencyStreams: 20, latencyEvents: 20, reloads: 1, probeStreams: 300, probeIdleSeconds: 1, probeRuns: 1, scaleStreams: 600, scaleWorkers: 2 }
  : {
      seconds: 10,
      connections: 32,
      streams: 20_000,
      latencyStreams: 100,
      latencyEvents: 100,
      reloads: 3,
      probeStreams: 10_000,
      probeIdleSeconds: 30,
      probeRuns: 3,
      // 40,000 streams need more than the 20,000 files one process may open: spread them over 10,000 per worker at most.
      scaleStreams: Number(process.env.BENCH_SCALE_STREAMS ?? 40_000),
      scaleWorkers: Math.max(cores, Math.ceil(Number(process.env.BENCH_SCALE_STREAMS ?? 40_000) / 10_000)),
    };
/** BENCH_WORKERS=1,2,4,…: the worker counts of the scaling table (default: powers of two up to the cores, and the cores). */
const workerCounts = (process.env.BENCH_WORKERS ?? '')
  .split(',')
  .map((text) => Number(text.trim()))
  .filter((n) => Number.isInteger(n) && n > 0);
if (workerCounts.length === 0) for (let n = 1; n < cores; n *= 2) workerCounts.push(n);
if (process.env.BENCH_WORKERS === undefined || workerCounts.length === 0) workerCounts.push(cores);
const heartbeatMs = quick ? 1000 : 5000;
/** How long memory is sampled before and after streams open (see settledRssBytes). */
const settleSeconds = quick ? 1 : 10;
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

  const kit = await TestKit.create({ instances: cores, env: streamEnv(plan.streams) });
  try {
    step(`cold start: bin/start-pm2 with ${cores} workers, from no PM2 daemon`);
    const began = Date.now();
    const started = await kit.run('start-pm2', ['--no-agents']);
    if (started.code !== 0) throw new Error(`start-pm2 failed:\n${started.output}`);
    const coldStart = { workers: cores, seconds: round((Date.now() - began) / 1000) };

    const pids = async () => [(kit.daemonPid() ?? 0), ...(await kit.workers()).map((w) => w.pid)];
    const scaling: ScalingRow[] = [];
    for (const workers of [...new Set(workerCounts)].sort((a, b) => a - b)) {
      step(`PM2 cluster, ${workers} worker${workers === 1 ? '' : 's'}`);
      assertOk(await kit.run('start-pm2', ['--no-agents'], { WEB_INSTANCES: String(workers) }));
      await kit.onlineWorkers(workers);
      const row = await measure(`PM2 cluster, ${workers} worker${workers === 1 ? '' : 's'}`, workers, kit.url, await pids(), true);
      throughput.push(row);
      step(`  fan-out latency on ${workers} worker(s): ${plan.latencyEvents} events to ${plan.latencyStreams} streams`);
      const latency = await fanoutLatency(kit.url, benchEventsToken(kit.logsDir), `bench-scaling-${workers}`, plan.latencyStreams, plan.latencyEvents, quick ? 20 : 10);
      scaling.push({ workers, pageReqPerSec: row.page.reqPerSec, healthzReqPerSec: row.healthz?.reqPerSec ?? 0, latency });
    }
    assertOk(await kit.run('start-pm2', ['--no-agents']));
    await kit.onlineWorkers(cores);

    step(`${plan.reloads} pm2 reload(s) under keep-alive load`);
    const reload = await reloadsUnderLoad(kit);
    step('bin/deploy under keep-alive load');
    const deploy = await deployUnderLoad(kit);
    step(`event streams, file backend: ${plan.streams} held across ${cores} workers`);
    const fileRow = await streamRow('kit, file backend', kit.url, benchEventsToken(kit.logsDir), (await kit.onlineWorkers(cores)).map((w) => w.pid), 'file');
    await kit.cleanup();
    const streams = [fileRow, await redisRow(), await bareRow()];
    const idleMemory = await idleMemoryRows();
    step(`scale: ${plan.scaleStreams} streams over ${plan.scaleWorkers} workers, heartbeats, and a reload that drains them all`);
    const scale = await scaleRun();

    return {
      when: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      quick,
      machine: machine(),
      note: 'The load generator (autocannon, and the stream clients) runs on the same machine and takes CPU from the servers: absolute numbers are lower than on a dedicated client, ratios are what to read.',
      throughput,
      coldStart,
      reload,
      deploy,
      sse: { ...fileRow, target: fileRow.target, workers: fileRow.workers },
      streams,
      idleMemory,
      scaling,
      scale,
    };
  } finally {
    await kit.cleanup();
  }
}

/** A one-process server on a free port, measured, then stopped. */
async function single(setup: string, args: string[], kit: boolean): Promise<Throughput> {
  const port = await freePort();
  const env = oneProcessEnv(port, path.join(os.tmpdir(), `kit-bench-${process.pid}`));
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`${setup} to answer`, async () => (await request(`${base}/`)).status === 200);
    return await measure(setup, 1, base, [child.pid!], kit);
  } finally {
    await stopChild(child);
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

/** Idle fan-out latency, then `plan.streams` held streams (memory each), then fan-out latency with all of them receiving every event. */
async function streamRow(setup: string, base: string, token: string, workerPids: number[], backend: StreamRow['backend']): Promise<StreamRow> {
  const rate = quick ? 20 : 10;
  step(`  ${setup}: fan-out latency with no other stream open: ${plan.latencyEvents} events to ${plan.latencyStreams} streams`);
  const idle = await fanoutLatency(base, token, 'bench-idle', plan.latencyStreams, plan.latencyEvents, rate);
  console.log(`  p50 ${idle.p50} ms, p99 ${idle.p99} ms`);
  const before = await settledRssBytes(workerPids, settleSeconds);
  let shown = 0;
  const held = await holdStreams(`${base}/api/events/bench-held`, plan.streams, 5000, (established) => {
    if (established - shown >= Math.max(100, plan.streams / 10)) {
      shown = established;
      console.log(`  … ${established} streams established`);
    }
  });
  try {
    const memoryPerStreamKiB = held.established > 0 ? round(((await settledRssBytes(workerPids, settleSeconds)) - before) / held.established / 1024) : 0;
    console.log(`  ${held.established} established, ${held.failed} failed, ${memoryPerStreamKiB} KiB each`);
    step(`  ${setup}: fan-out latency with them held: ${plan.latencyEvents} events to ${plan.latencyStreams} more streams, and to every held one`);
    const latency = await fanoutLatency(base, token, 'bench-held', plan.latencyStreams, plan.latencyEvents, rate);
    console.log(`  p50 ${latency.p50} ms, p99 ${latency.p99} ms`);
    return { setup, backend, target: plan.streams, established: held.established, failed: held.failed, memoryPerStreamKiB, workers: workerPids.length, idle, latency };
  } finally {
    held.close();
  }
}

async function redisRow(): Promise<StreamRow> {
  step(`event streams, Redis backend: ${plan.streams} held across ${cores} workers`);
  const redis = await startRedis();
  const kit = await TestKit.create({ instances: cores, env: { ...streamEnv(plan.streams), EVENTS_BACKEND: 'redis', REDIS_URL: redis.url } });
  try {
    assertOk(await kit.run('start-pm2', ['--no-agents']));
    return await streamRow('kit, Redis backend', kit.url, benchEventsToken(kit.logsDir), (await kit.onlineWorkers(cores)).map((w) => w.pid), 'redis');
  } finally {
    await kit.cleanup();
    await redis.stop();
  }
}

async function bareRow(): Promise<StreamRow> {
  step(`event streams, bare Node SSE server (${cores} processes, no event log): ${plan.streams} held`);
  const bare = await startBareServer(await freePort(), cores, { ...process.env, SSE_HEARTBEAT_MS: String(heartbeatMs) });
  try {
    return await streamRow('bare Node SSE server', bare.url, 'none', bare.workerPids, 'none');
  } finally {
    await stopChild(bare.child);
  }
}

/** What an idle stream costs one process of the kit and of the bare server, after a full collection: the median of a few runs. */
async function idleMemoryRows(): Promise<IdleMemorySummary[]> {
  const rows: IdleMemorySummary[] = [];
  for (const which of ['kit', 'bare'] as const) {
    const runs: IdleMemory[] = [];
    for (let run = 1; run <= plan.probeRuns; run++) {
      step(`memory per idle stream, ${which === 'kit' ? 'the kit\'s worker' : 'the bare Node SSE server'} (run ${run} of ${plan.probeRuns}): ${plan.probeStreams} streams on one process, idle ${plan.probeIdleSeconds} s, after a full collection`);
      const result = await idleStreamMemory(which, { streams: plan.probeStreams, idleSeconds: plan.probeIdleSeconds });
      console.log(`  ${result.established} held, ${result.failed} failed; heap used ${result.perStreamKiB.heapUsed} KiB, committed ${result.perStreamKiB.heapCommitted} KiB, resident ${result.perStreamKiB.rss} KiB each`);
      runs.push(result);
    }
    rows.push(medianOf(runs));
  }
  return rows;
}

/** The env of a kit that holds `streams` streams from this one machine. */
function streamEnv(streams: number): Record<string, string> {
  // The held streams come from a few loopback addresses: the per-client cap (there to stop a flood from one
  // client) would refuse all but the first few dozen.
  return { WEB_MAX_MEMORY: '4G', DRAIN_TIMEOUT_MS: '5000', MAX_STREAMS_PER_CLIENT: String(streams + 1000), SSE_HEARTBEAT_MS: String(heartbeatMs) };
}

/**
 * `plan.scaleStreams` streams over `plan.scaleWorkers` workers (file
 * backend): every one established, every one heartbeating, every one getting
 * events; then a pm2 reload drains them all, and every one comes back with
 * its Last-Event-ID and misses nothing published meanwhile.
 */
async function scaleRun(): Promise<ScaleRun> {
  const workers = plan.scaleWorkers;
  const kit = await TestKit.create({ instances: workers, env: { ...streamEnv(plan.scaleStreams), DRAIN_TIMEOUT_MS: '15000' } });
  let held: Awaited<ReturnType<typeof holdStreams>> | undefined;
  try {
    assertOk(await kit.run('start-pm2', ['--no-agents']));
    const token = benchEventsToken(kit.logsDir);
    const online = await kit.onlineWorkers(workers);
    const workerPids = online.map((w) => w.pid);
    const fileLimit = Math.min(...workerPids.map((pid) => openFileLimit(pid) ?? Number.POSITIVE_INFINITY));
    const daemonFds = () => fdCount(kit.daemonPid() ?? 0);
    const daemonBefore = daemonFds();
    await publishOver(kit.url, token, 'bench-scale', { n: 0 }); // The topic exists: resumed ids are checked from here.
    const before = await settledRssBytes(workerPids, settleSeconds);
    const began = Date.now();
    let shown = 0;
    held = await holdStreams(`${kit.url}/api/events/bench-scale`, plan.scaleStreams, 5000, (established) => {
      if (established - shown >= plan.scaleStreams / 8) {
        shown = established;
        console.log(`  … ${established} streams established`);
      }
    }, { reconnect: true });
    const openSeconds = round((Date.now() - began) / 1000);
    const memoryPerStreamKiB = held.established > 0 ? round(((await settledRssBytes(workerPids, settleSeconds)) - before) / held.established / 1024) : 0;
    const daemonFdsHeld = daemonFds();
    console.log(`  ${held.established} established in ${openSeconds} s, ${held.failed} failed, ${memoryPerStreamKiB} KiB each; PM2 daemon fds ${daemonBefore} → ${daemonFdsHeld}`);
    await held.report(); // Counting starts now.
    // Two heartbeat periods: each stream must have had at least one.
    await new Promise((resolve) => setTimeout(resolve, heartbeatMs * 2 + 500));
    const heartbeats = await held.report();
    console.log(`  ${heartbeats.withHeartbeat} of ${heartbeats.open} open streams got a heartbeat within ${(heartbeatMs * 2) / 1000} s`);

    const events = quick ? 3 : 10;
    let last = '0';
    for (let n = 1; n <= events; n++) last = (await publishOver(kit.url, token, 'bench-scale', { n })).id;
    const everyone = held.established;
    await waitFor('every held stream at the last event', async () => (await held!.report(Number(last))).atId === everyone, { timeoutMs: 120_000, intervalMs: 1000 }).catch(() => undefined);
    const delivered = await held.report(Number(last));

    step(`  pm2 reload with ${everyone} streams open, publishing meanwhile`);
    const reloadBegan = Date.now();
    const previous = new Set(workerPids);
    const reloading = kit.pm2(['reload', path.join(repoRoot, 'ecosystem.config.js')]);
    let publishedDuring = 0;
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        last = (await publishOver(kit.url, token, 'bench-scale', { during: ++publishedDuring }).catch(() => ({ id: last }))).id;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    assertOk(await reloading);
    await kit.onlineWorkers(workers, previous);
    publishing = false;
    await publisher;
    const reloadSeconds = round((Date.now() - reloadBegan) / 1000);
    // Every stream reconnects at once: on a small machine the workers take a while to get to a new request.
    const resumeBegan = Date.now();
    last = (await publishOver(kit.url, token, 'bench-scale', { after: true }, 120_000)).id;
    await waitFor('every stream back, at the last event', async () => (await held!.report(Number(last))).atId === everyone, { timeoutMs: 180_000, intervalMs: 1000 }).catch(() => undefined);
    const resumeSeconds = round((Date.now() - resumeBegan) / 1000);
    const after = await held.report(Number(last));
    console.log(`  reload ${reloadSeconds} s; ${after.atId} of ${everyone} streams at the last event ${resumeSeconds} s later, ${after.reconnected} reconnected, ${after.gaps} gaps`);
    return {
      target: plan.scaleStreams,
      workers,
      established: held.established,
      failed: held.failed,
      openSeconds,
      memoryPerStreamKiB,
      openFileLimit: Number.isFinite(fileLimit) ? fileLimit : -1,
      clientProcesses: Math.ceil(plan.scaleStreams / 5000),
      daemonFds: { before: daemonBefore, held: daemonFdsHeld },
      heartbeats: { open: heartbeats.open, withHeartbeat: heartbeats.withHeartbeat, periodMs: heartbeatMs },
      delivered: { events, streamsAtLast: delivered.atId, gaps: delivered.gaps },
      reload: { seconds: reloadSeconds, publishedDuring, reconnected: after.reconnected, streamsAtLast: after.atId, gaps: after.gaps, resumeSeconds },
    };
  } finally {
    held?.close();
    await kit.cleanup();
  }
}

/** Open file descriptors of a process (0 when it is gone). */
function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
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
