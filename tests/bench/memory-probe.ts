// `node --import tsx tests/bench/memory-probe.ts [STREAMS] [--snapshot]`:
// what one idle event stream costs the server, the kit's worker
// (packages/kit/dist/web/main.js, one process, as the bench's `single()`
// runs it) beside the bare Node SSE server (one worker). Each server runs
// with memory-probe-preload.mjs, which collects garbage fully before it
// reports: heap used, external memory and resident memory with STREAMS
// (default 3000) streams held from a separate client process, less the same
// before they opened, per stream. With --snapshot it also writes a heap
// snapshot before and after and lists what the streams retain, by
// constructor. Not a test: a tool for finding what a stream keeps alive.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, request } from '../helpers/http.js';
import { repoRoot } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';
import { ensureFreshBuild } from '../setup/site-build.js';
import { holdStreams, rssBytes } from './sse.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const streams = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 3000);
const snapshot = process.argv.includes('--snapshot');
const only = process.env.PROBE_ONLY; // 'kit' or 'bare'

interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  heapCommitted: number;
  external: number;
  arrayBuffers: number;
  mallocedMemory: number;
}

interface Server {
  name: string;
  url: string;
  /** The process that holds the streams. */
  pid: number;
  child: ChildProcess;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'kit-memory-probe-'));
const baseEnv = (port: number): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${path.join(here, 'memory-probe-preload.mjs')}`.trim(),
    MEMORY_PROBE_DIR: dir,
    HOST: '127.0.0.1',
    PORT: String(port),
    SSE_HEARTBEAT_MS: '5000',
  };
  delete env.NODE_APP_INSTANCE;
  return env;
};

async function startKit(): Promise<Server> {
  const port = await freePort();
  const env = {
    ...baseEnv(port),
    ASTRO_CLUSTER_ROOT: repoRoot,
    LOGS_DIR: path.join(dir, 'logs'),
    NODE_ENV: 'production',
    ASTRO_NODE_LOGGING: 'disabled',
    MAX_STREAMS_PER_CLIENT: String(streams + 1000),
  };
  const child = spawn(process.execPath, [path.join(repoRoot, 'packages', 'kit', 'dist', 'web', 'main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await waitFor('the kit to answer', async () => (await request(`${url}/healthz`)).status === 200, { timeoutMs: 60_000 });
  return { name: 'kit worker', url, pid: child.pid!, child };
}

async function startBare(): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(here, 'bare-sse-server.ts')], {
    env: { ...baseEnv(port), WORKERS: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await waitFor('the bare SSE server to listen', () => out.includes('ready'), { timeoutMs: 60_000 });
  const worker = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
  return { name: 'bare Node SSE server', url: `http://127.0.0.1:${port}`, pid: worker, child };
}

/** Full GC in the server, then its memory. */
async function memoryOf(pid: number): Promise<Memory> {
  const file = path.join(dir, `${pid}.json`);
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  await waitFor('the server\'s memory report', () => existsSync(file), { timeoutMs: 30_000 });
  return JSON.parse(readFileSync(file, 'utf8')) as Memory;
}

/** Memory once it stops falling: a few full collections a second apart, the lowest RSS of them. */
async function settled(pid: number): Promise<Memory> {
  let best = await memoryOf(pid);
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = await memoryOf(pid);
    if (now.rss < best.rss) best = { ...now };
    else best = { ...now, rss: best.rss };
  }
  // RSS from /proc, as the bench reads it (the same number as process.memoryUsage().rss).
  return { ...best, rss: Math.min(best.rss, rssBytes([pid])) };
}

async function heapSnapshot(pid: number): Promise<string> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGWINCH');
  const done = await waitFor('the heap snapshot', () => readdirSync(dir).find((name) => name.endsWith('.done') && name.startsWith(`${pid}-`) && !before.has(name)), { timeoutMs: 120_000 });
  return path.join(dir, done.replace(/\.done$/, '.heapsnapshot'));
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Count and self size by kind: `Constructor` for objects, `(closure) name`, `(string)`, `(native) name`… */
function groups(file: string): Map<string, { count: number; size: number }> {
  const data = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = data.snapshot.meta.node_fields;
  const types = data.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')];
  const out = new Map<string, { count: number; size: number }>();
  for (let i = 0; i < data.nodes.length; i += width) {
    const type = types[data.nodes[i + typeAt]!]!;
    const name = data.strings[data.nodes[i + nameAt]!]!;
    const key =
      type === 'object' ? name
      : type === 'string' || type === 'concatenated string' || type === 'sliced string' ? '(string)'
      : type === 'closure' ? `(closure) ${name || 'anonymous'}`
      : `(${type}) ${name.length > 60 ? `${name.slice(0, 60)}…` : name}`;
    const group = out.get(key) ?? { count: 0, size: 0 };
    group.count++;
    group.size += data.nodes[i + sizeAt]!;
    out.set(key, group);
  }
  return out;
}

function retained(beforeFile: string, afterFile: string, held: number): string {
  const before = groups(beforeFile);
  const after = groups(afterFile);
  const rows = [...after]
    .map(([key, { count, size }]) => ({ key, count: (count - (before.get(key)?.count ?? 0)) / held, size: (size - (before.get(key)?.size ?? 0)) / held }))
    .filter((row) => row.size >= 16 || row.count >= 0.5)
    .sort((a, b) => b.size - a.size);
  const total = rows.reduce((sum, row) => sum + row.size, 0);
  const lines = rows.slice(0, Number(process.env.PROBE_ROWS ?? 40)).map((row) => `  ${row.size.toFixed(0).padStart(6)} B  ${row.count.toFixed(2).padStart(6)} ×  ${row.key}`);
  return [`  heap snapshot, per stream: ${total.toFixed(0)} B in all (self sizes)`, ...lines].join('\n');
}

async function probe(start: () => Promise<Server>): Promise<void> {
  const server = await start();
  try {
    // Warm: one stream opened and closed, so code paths are compiled and lazy modules loaded before "before".
    const warm = await holdStreams(`${server.url}/api/events/probe-held`, 20, 20);
    warm.close();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const before = await settled(server.pid);
    const beforeSnapshot = snapshot ? await heapSnapshot(server.pid) : undefined;
    const held = await holdStreams(`${server.url}/api/events/probe-held`, streams, 5000);
    try {
      const after = await settled(server.pid);
      const per = (key: keyof Memory) => ((after[key] - before[key]) / held.established / 1024).toFixed(2);
      console.log(`${server.name}: ${held.established} streams held (${held.failed} failed); per stream: rss ${per('rss')} KiB, heap used ${per('heapUsed')} KiB, heap committed ${per('heapCommitted')} KiB, external ${per('external')} KiB (array buffers ${per('arrayBuffers')} KiB), malloced by V8 ${per('mallocedMemory')} KiB`);
      console.log(`  before: rss ${(before.rss / 1048576).toFixed(1)} MiB, heap used ${(before.heapUsed / 1048576).toFixed(1)} MiB; after: rss ${(after.rss / 1048576).toFixed(1)} MiB, heap used ${(after.heapUsed / 1048576).toFixed(1)} MiB, heap total ${(after.heapTotal / 1048576).toFixed(1)} MiB`);
      if (beforeSnapshot) console.log(retained(beforeSnapshot, await heapSnapshot(server.pid), held.established));
    } finally {
      held.close();
    }
  } finally {
    server.child.kill('SIGTERM');
    if (server.child.exitCode === null && server.child.signalCode === null) await once(server.child, 'exit');
  }
}

try {
  if (only !== 'bare') {
    await ensureFreshBuild();
    await probe(startKit);
  }
  if (only !== 'kit') await probe(startBare);
} finally {
  // PROBE_KEEP=1 keeps the snapshots for a closer look (Chrome DevTools → Memory → Load).
  if (process.env.PROBE_KEEP === '1') console.log(`snapshots kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
