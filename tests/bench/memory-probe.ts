// `node --import tsx tests/bench/memory-probe.ts [STREAMS] [--snapshot]`:
// what one idle event stream costs the server (idle-memory.ts), the kit's
// worker beside the bare Node SSE server, with STREAMS (default 3000)
// streams held idle for PROBE_IDLE_S seconds (default 30). With --snapshot
// it also writes a heap snapshot before and after and lists what the
// streams retain, by constructor. PROBE_ONLY=kit|bare probes one;
// PROBE_KEEP=1 keeps the files (Chrome DevTools → Memory → Load). Not a
// test: a tool for finding what a stream keeps alive.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from '../helpers/wait.js';
import { ensureFreshBuild } from '../setup/site-build.js';
import { idleStreamMemory, type Memory, type Probed, type ProbeHooks, type ProbedServer } from './idle-memory.js';

const streams = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 3000);
const snapshot = process.argv.includes('--snapshot');
const only = process.env.PROBE_ONLY;

async function heapSnapshot(server: Probed): Promise<string> {
  const before = new Set(readdirSync(server.dir));
  process.kill(server.pid, 'SIGWINCH');
  const done = await waitFor('the heap snapshot', () => readdirSync(server.dir).find((name) => name.endsWith('.done') && name.startsWith(`${server.pid}-`) && !before.has(name)), { timeoutMs: 120_000 });
  return path.join(server.dir, done.replace(/\.done$/, '.heapsnapshot'));
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

async function probe(which: ProbedServer): Promise<void> {
  let beforeSnapshot: string | undefined;
  let detail = '';
  const hooks: ProbeHooks = {
    before: async (server) => {
      if (snapshot) beforeSnapshot = await heapSnapshot(server);
    },
    held: async (server, established, before: Memory, after: Memory) => {
      const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
      detail = `  before: rss ${mib(before.rss)} MiB, heap used ${mib(before.heapUsed)} MiB; after: rss ${mib(after.rss)} MiB, heap used ${mib(after.heapUsed)} MiB, heap total ${mib(after.heapTotal)} MiB`;
      if (beforeSnapshot) detail += `\n${retained(beforeSnapshot, await heapSnapshot(server), established)}`;
    },
  };
  const result = await idleStreamMemory(which, { streams, idleSeconds: Number(process.env.PROBE_IDLE_S ?? 30) }, hooks);
  const kib = result.perStreamKiB;
  console.log(`${result.server}: ${result.established} streams held (${result.failed} failed); per stream: rss ${kib.rss} KiB, heap used ${kib.heapUsed} KiB, heap committed ${kib.heapCommitted} KiB, external ${kib.external} KiB (young generation ${result.youngGenerationMiB.before} → ${result.youngGenerationMiB.after} MiB, left out)`);
  console.log(detail);
}

if (only !== 'bare') {
  await ensureFreshBuild();
  await probe('kit');
}
if (only !== 'kit') await probe('bare');
