// What one idle event stream costs the server, measured the way that
// leaves nothing to chance: one server process, loaded with
// memory-probe-preload.mjs, which collects garbage fully before it reports;
// its memory with `streams` streams held idle from a separate client
// process for `idleSeconds`, less the same before they opened, per stream.
// Used by `pnpm bench` (the median of a few runs) and by memory-probe.ts.
// The bench's cluster rows (RSS without a forced collection) include
// garbage not yet collected; these do not.
//
// The wait is part of the measure: opening thousands of connections at once
// leaves V8's old space fragmented (the requests' garbage between the
// streams' objects) by 2 to 4 KiB a stream, which a full collection alone
// keeps and V8's memory reducer, on an idle server, compacts in part.
//
// The young generation is left out of committed and resident memory: V8
// grows it after any burst of allocation, such as thousands of connections
// opening, up to 32 MiB a process, and gives it back when it sees fit,
// whatever the number of streams. Per stream it would be noise of up to
// 3 KiB at 10,000 streams, in either direction. Heap used is as measured.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, request } from '../helpers/http.js';
import { repoRoot } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';
import { oneProcessEnv, startBareServer, stopChild } from './processes.js';
import { holdStreams, rssBytes } from './sse.js';

const here = path.dirname(new URL(import.meta.url).pathname);

export type ProbedServer = 'kit' | 'bare';

export interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  heapCommitted: number;
  external: number;
  arrayBuffers: number;
  mallocedMemory: number;
  /** The young generation's committed size (see above). */
  youngCommitted: number;
}

/** One server's idle-stream cost, per stream, in KiB. */
export interface IdleMemory {
  server: string;
  streams: number;
  /** How long the streams were held idle before the measurement. */
  idleSeconds: number;
  established: number;
  failed: number;
  /** Committed and resident memory leave the young generation out (see above). */
  perStreamKiB: { rss: number; heapUsed: number; heapCommitted: number; external: number };
  /** The young generation before the streams opened and with them held, left out of the figures. */
  youngGenerationMiB: { before: number; after: number };
}

/** Several runs of one server: the median of each figure, and the range of resident memory. */
export interface IdleMemorySummary extends IdleMemory {
  runs: number;
  residentRangeKiB: [number, number];
}

/**
 * The median run by run (V8's page bookkeeping after the burst of opening
 * the streams moves committed and resident memory by a few KiB a stream
 * from one run to the next; heap used hardly moves).
 */
export function medianOf(runs: IdleMemory[]): IdleMemorySummary {
  if (runs.length === 0) throw new Error('medianOf: no runs');
  const median = (pick: (run: IdleMemory) => number) => {
    const sorted = runs.map(pick).sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[mid]! : Math.round(((sorted[mid - 1]! + sorted[mid]!) / 2) * 100) / 100;
  };
  const resident = runs.map((run) => run.perStreamKiB.rss);
  return {
    ...runs[0]!,
    established: Math.min(...runs.map((run) => run.established)),
    failed: Math.max(...runs.map((run) => run.failed)),
    perStreamKiB: {
      rss: median((run) => run.perStreamKiB.rss),
      heapUsed: median((run) => run.perStreamKiB.heapUsed),
      heapCommitted: median((run) => run.perStreamKiB.heapCommitted),
      external: median((run) => run.perStreamKiB.external),
    },
    runs: runs.length,
    residentRangeKiB: [Math.min(...resident), Math.max(...resident)],
  };
}

/** A probed server, for hooks that look closer (heap snapshots). */
export interface Probed {
  name: string;
  url: string;
  /** The process that holds the streams. */
  pid: number;
  /** Where the preload writes its reports and snapshots. */
  dir: string;
  child: ChildProcess;
}

export interface ProbeHooks {
  /** Streams not yet open, garbage collected. */
  before?(server: Probed): Promise<void>;
  /** Every stream held, garbage collected; `before` and `after` as measured. */
  held?(server: Probed, established: number, before: Memory, after: Memory): Promise<void>;
}

/** Holds `streams` idle streams on one process of `which` and reports what each costs. */
export async function idleStreamMemory(which: ProbedServer, { streams, idleSeconds }: { streams: number; idleSeconds: number }, hooks: ProbeHooks = {}): Promise<IdleMemory> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kit-memory-probe-'));
  const server = await (which === 'kit' ? startKit(dir, streams) : startBare(dir));
  try {
    // Warm: a few streams opened and closed, so code paths are compiled and lazy modules loaded before "before".
    const warm = await holdStreams(`${server.url}/api/events/probe-held`, 20, 20);
    warm.close();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const before = await settled(server);
    await hooks.before?.(server);
    const held = await holdStreams(`${server.url}/api/events/probe-held`, streams, 5000);
    try {
      // Idle, as such a server is: V8's memory reducer gives back part of what the burst of opening them left.
      await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
      const after = await settled(server);
      await hooks.held?.(server, held.established, before, after);
      const perStream = (bytes: number) => (held.established > 0 ? Math.round((bytes / held.established / 1024) * 100) / 100 : 0);
      const grown = (key: keyof Memory) => after[key] - before[key];
      const young = grown('youngCommitted');
      return {
        server: server.name,
        streams,
        idleSeconds,
        established: held.established,
        failed: held.failed,
        perStreamKiB: { rss: perStream(grown('rss') - young), heapUsed: perStream(grown('heapUsed')), heapCommitted: perStream(grown('heapCommitted') - young), external: perStream(grown('external')) },
        youngGenerationMiB: { before: mib(before.youngCommitted), after: mib(after.youngCommitted) },
      };
    } finally {
      held.close();
    }
  } finally {
    await stopChild(server.child);
    if (process.env.PROBE_KEEP === '1') console.log(`  probe files kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** What both probed servers run with: the preload that reports memory. */
function probeEnv(dir: string): NodeJS.ProcessEnv {
  return {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${path.join(here, 'memory-probe-preload.mjs')}`.trim(),
    MEMORY_PROBE_DIR: dir,
    SSE_HEARTBEAT_MS: '5000',
  };
}

/** The kit's worker (packages/kit/dist/web/main.js), one process, as the bench's one-process row runs it. */
async function startKit(dir: string, streams: number): Promise<Probed> {
  const port = await freePort();
  const env = oneProcessEnv(port, path.join(dir, 'logs'), { ...probeEnv(dir), MAX_STREAMS_PER_CLIENT: String(streams + 1000) });
  const child = spawn(process.execPath, [path.join(repoRoot, 'packages', 'kit', 'dist', 'web', 'main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await waitFor('the kit to answer', async () => (await request(`${url}/healthz`)).status === 200, { timeoutMs: 60_000 });
  return { name: 'kit worker', url, pid: child.pid!, dir, child };
}

/** The bare Node SSE server with one worker: the streams are held by that worker. */
async function startBare(dir: string): Promise<Probed> {
  const bare = await startBareServer(await freePort(), 1, { ...process.env, ...probeEnv(dir) });
  return { name: 'bare Node SSE server', url: bare.url, pid: bare.workerPids[0]!, dir, child: bare.child };
}

/** Full GC in the server, then its memory. */
async function memoryOf(server: Probed): Promise<Memory> {
  const file = path.join(server.dir, `${server.pid}.json`);
  rmSync(file, { force: true });
  process.kill(server.pid, 'SIGUSR2');
  await waitFor('the server\'s memory report', () => existsSync(file), { timeoutMs: 30_000 });
  return JSON.parse(readFileSync(file, 'utf8')) as Memory;
}

/** Memory once it stops falling: a few full collections a second apart, the lowest RSS of them. */
async function settled(server: Probed): Promise<Memory> {
  let best = await memoryOf(server);
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = await memoryOf(server);
    if (now.rss < best.rss) best = { ...now };
    else best = { ...now, rss: best.rss };
  }
  // RSS from /proc, as the bench reads it (the same number as process.memoryUsage().rss).
  return { ...best, rss: Math.min(best.rss, rssBytes([server.pid])) };
}

function mib(bytes: number): number {
  return Math.round((bytes / 1048576) * 10) / 10;
}
