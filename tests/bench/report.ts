import type { IdleMemorySummary } from './idle-memory.js';
import type { LoadResult } from './load.js';
import type { FanoutLatency } from './sse.js';

export interface Throughput {
  setup: string;
  workers: number;
  page: LoadResult;
  healthz: LoadResult | undefined;
}

/** One stream server measured the same way: the kit on each backend, and the bare Node baseline. */
export interface StreamRow {
  setup: string;
  backend: 'file' | 'redis' | 'none';
  target: number;
  established: number;
  failed: number;
  memoryPerStreamKiB: number;
  workers: number;
  idle: FanoutLatency;
  latency: FanoutLatency;
}

/** BENCH_WORKERS: throughput and idle fan-out latency per worker count. */
export interface ScalingRow {
  workers: number;
  pageReqPerSec: number;
  healthzReqPerSec: number;
  latency: FanoutLatency;
}

/** The most streams the bench holds at once, then drains with a reload. */
export interface ScaleRun {
  target: number;
  workers: number;
  established: number;
  failed: number;
  openSeconds: number;
  memoryPerStreamKiB: number;
  /** The per-process open-file limit found on the workers. */
  openFileLimit: number;
  clientProcesses: number;
  /** Open files of the PM2 daemon (the cluster primary) before and with every stream held: it must not hold one per connection. */
  daemonFds: { before: number; held: number };
  heartbeats: { open: number; withHeartbeat: number; periodMs: number };
  delivered: { events: number; streamsAtLast: number; gaps: number };
  reload: { seconds: number; publishedDuring: number; reconnected: number; streamsAtLast: number; gaps: number; resumeSeconds: number };
}

export interface BenchResults {
  when: string;
  quick: boolean;
  machine: { cores: number; cpu: string; memoryGiB: number; kernel: string; node: string; pm2: string; astro: string };
  note: string;
  throughput: Throughput[];
  coldStart: { workers: number; seconds: number };
  reload: { reloads: number; secondsEach: number[]; requests: number; failed: number };
  deploy: { seconds: number; requests: number; failed: number };
  sse: { target: number; established: number; failed: number; memoryPerStreamKiB: number; workers: number; idle: FanoutLatency; latency: FanoutLatency };
  /** Absent from runs before the stream rows were added. */
  streams?: StreamRow[];
  /** One process each, after a full collection (idle-memory.ts). */
  idleMemory?: IdleMemorySummary[];
  scaling?: ScalingRow[];
  scale?: ScaleRun;
}

const latencyCell = (l: FanoutLatency) => `${ms(l.p50)} / ${ms(l.p99)}`;
const otherCell = (l: FanoutLatency) => `${ms(l.otherWorkerP50)} / ${ms(l.otherWorkerP99)}`;

function streamsSection(results: BenchResults): string {
  const rows = results.streams ?? [];
  if (rows.length === 0) return '';
  const bare = rows.find((row) => row.backend === 'none');
  const ratio = (row: StreamRow) => (bare && bare !== row && bare.latency.p99 > 0 ? `${(row.latency.p99 / bare.latency.p99).toFixed(2)}×` : '–');
  const table = rows.map((row) =>
    [row.setup, `${row.established} of ${row.target}`, `${row.memoryPerStreamKiB} KiB`, latencyCell(row.idle), otherCell(row.idle), latencyCell(row.latency), otherCell(row.latency), ratio(row)].join(' | '),
  );
  const first = rows[0]!;
  return `
### Servers side by side

${first.idle.streams} measuring streams get ${first.idle.events} events at 10/s, published over HTTP through any worker; "held" adds ${first.target} idle streams that receive every event too. The bare Node server is ${first.workers} processes (node:cluster), no event log: the limit on this machine.

| server | held | memory per stream | idle p50 / p99 | idle, other worker | held p50 / p99 | held, other worker | held p99 vs bare |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${table.map((row) => `| ${row} |`).join('\n')}
`;
}

function idleMemorySection(results: BenchResults): string {
  const rows = results.idleMemory ?? [];
  if (rows.length === 0) return '';
  const kib = (value: number) => `${value.toFixed(1)} KiB`;
  return `
### Memory per idle stream, after a full collection

One server process holds ${rows[0]!.streams} streams from a separate client process, idle for ${rows[0]!.idleSeconds} s (V8's memory reducer gives back in that time part of what the burst of opening them left); memory after two full garbage collections, less the same before they opened, per stream${rows[0]!.runs > 1 ? `; the median of ${rows[0]!.runs} runs, with the range of resident memory` : ''}. Committed and resident memory leave out V8's young generation, which grows after any burst of allocation to at most 32 MiB a process, whatever the number of streams. The rows above are resident memory of the whole cluster without a forced collection, garbage included.

| server | held | heap used | heap committed | resident |
| --- | ---: | ---: | ---: | ---: |
${rows.map((row) => `| ${row.server} | ${row.established} of ${row.streams} | ${kib(row.perStreamKiB.heapUsed)} | ${kib(row.perStreamKiB.heapCommitted)} | ${kib(row.perStreamKiB.rss)}${row.runs > 1 ? ` (${row.residentRangeKiB.map((value) => value.toFixed(1)).join('–')})` : ''} |`).join('\n')}
`;
}

function scalingSection(results: BenchResults): string {
  const rows = results.scaling ?? [];
  if (rows.length === 0) return '';
  return `
## Scaling (BENCH_WORKERS=${rows.map((row) => row.workers).join(',')})

| workers | page req/s | /healthz req/s | fan-out p50 / p99 (${rows[0]!.latency.streams} streams) |
| ---: | ---: | ---: | ---: |
${rows.map((row) => `| ${row.workers} | ${row.pageReqPerSec} | ${row.healthzReqPerSec} | ${latencyCell(row.latency)} |`).join('\n')}
`;
}

function scaleSection(results: BenchResults): string {
  const scale = results.scale;
  if (!scale) return '';
  return `
### ${scale.target} streams

| | |
| --- | --- |
| streams held over ${scale.workers} workers (file backend), from ${scale.clientProcesses} client processes on as many loopback addresses | ${scale.established} of ${scale.target} (${scale.failed} failed), opened in ${scale.openSeconds} s |
| per-process open-file limit found | ${scale.openFileLimit} |
| server memory per idle stream | ${scale.memoryPerStreamKiB} KiB |
| PM2 daemon's open files, before → with every stream held | ${scale.daemonFds.before} → ${scale.daemonFds.held} |
| streams that got a heartbeat within two periods (${scale.heartbeats.periodMs / 1000} s each) | ${scale.heartbeats.withHeartbeat} of ${scale.heartbeats.open} open |
| ${scale.delivered.events} events published: streams at the last one | ${scale.delivered.streamsAtLast}, ${scale.delivered.gaps} gaps |
| \`pm2 reload\` with every stream open, ${scale.reload.publishedDuring} events published during it | ${scale.reload.seconds} s; ${scale.reload.reconnected} streams drained and back with Last-Event-ID; ${scale.reload.streamsAtLast} at the last event ${scale.reload.resumeSeconds} s after, ${scale.reload.gaps} gaps |
`;
}

const ms = (value: number) => (Number.isFinite(value) ? `${value} ms` : '–');

/** The results as Markdown: what the README shows. */
export function markdown(results: BenchResults): string {
  const { machine } = results;
  const base = results.throughput[0]?.page.reqPerSec ?? 1;
  const rows = results.throughput.map((t) =>
    [
      t.setup,
      String(t.page.reqPerSec),
      `${t.page.p50} / ${t.page.p99} ms`,
      `${(t.page.reqPerSec / base).toFixed(2)}×`,
      t.healthz ? String(t.healthz.reqPerSec) : '–',
      t.healthz ? `${t.healthz.p50} / ${t.healthz.p99} ms` : '–',
      t.page.cpuMsPerRequest === undefined ? '–' : `${t.page.cpuMsPerRequest} ms`,
      String(t.page.errors + t.page.non2xx + (t.healthz ? t.healthz.errors + t.healthz.non2xx : 0)),
    ].join(' | '),
  );
  const page = results.throughput[0]?.page;
  return `# Benchmark${results.quick ? ' (quick run: BENCH_QUICK=1)' : ''}

${results.when} on ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Linux ${machine.kernel}; Node ${machine.node}, PM2 ${machine.pm2}, Astro ${machine.astro}.
${results.note}

## Throughput

autocannon, ${page?.connections ?? "?"} keep-alive connections, ${page?.seconds ?? "?"} s per row after a 2 s warm-up, on loopback.
The page is \`/guides?q=reload\` (SSR: reads the guides, filters, renders a list). CPU is the server's (workers and, for PM2, the daemon that hands out connections), per page request.

| server | page req/s | page p50 / p99 | vs the adapter | /healthz req/s | /healthz p50 / p99 | CPU per page | failed |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.map((row) => `| ${row} |`).join('\n')}

## Reloads and deploys under load

| | |
| --- | --- |
| cold start: \`bin/start-pm2\` to ${results.coldStart.workers} workers healthy | ${results.coldStart.seconds} s |
| \`pm2 reload\` × ${results.reload.reloads} under keep-alive load | ${results.reload.secondsEach.map((s) => `${s} s`).join(', ')} each; ${results.reload.failed} failed of ${results.reload.requests} requests |
| \`bin/deploy\` under keep-alive load | ${results.deploy.seconds} s (build included); ${results.deploy.failed} failed of ${results.deploy.requests} requests |

## Event streams

| | |
| --- | --- |
| concurrent streams held across ${results.sse.workers} workers | ${results.sse.established} of ${results.sse.target} (${results.sse.failed} failed) |
| server memory per stream | ${results.sse.memoryPerStreamKiB} KiB |
| publish → receipt, ${results.sse.idle.streams} streams, nothing else open | p50 ${ms(results.sse.idle.p50)}, p99 ${ms(results.sse.idle.p99)}; on another worker than the publisher's: p50 ${ms(results.sse.idle.otherWorkerP50)}, p99 ${ms(results.sse.idle.otherWorkerP99)} |
| publish → receipt, ${results.sse.latency.streams} streams, with the ${results.sse.established} held ones receiving every event too | p50 ${ms(results.sse.latency.p50)}, p99 ${ms(results.sse.latency.p99)}; on another worker than the publisher's: p50 ${ms(results.sse.latency.otherWorkerP50)}, p99 ${ms(results.sse.latency.otherWorkerP99)} |
${streamsSection(results)}${idleMemorySection(results)}${scaleSection(results)}${scalingSection(results)}`;
}

/** A bar chart of page and /healthz throughput per setup, as SVG. */
export function throughputChart(results: BenchResults): string {
  const bars = results.throughput.flatMap((t) => [
    { label: `${t.setup}: page`, value: t.page.reqPerSec, color: '#5b3cc4' },
    ...(t.healthz ? [{ label: `${t.setup}: /healthz`, value: t.healthz.reqPerSec, color: '#9d8ce0' }] : []),
  ]);
  const max = Math.max(...bars.map((bar) => bar.value), 1);
  const width = 760;
  const labelWidth = 300;
  const rowHeight = 28;
  const height = bars.length * rowHeight + 40;
  const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const rows = bars
    .map((bar, i) => {
      const y = 30 + i * rowHeight;
      const length = Math.max(1, Math.round(((width - labelWidth - 80) * bar.value) / max));
      return `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escape(bar.label)}</text><rect x="${labelWidth}" y="${y}" width="${length}" height="20" fill="${bar.color}"/><text x="${labelWidth + length + 6}" y="${y + 15}">${bar.value} req/s</text>`;
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="13">
<text x="10" y="18" font-weight="bold">Requests per second, ${results.machine.cores} cores${results.quick ? ' (quick run)' : ''}</text>
${rows}
</svg>
`;
}
