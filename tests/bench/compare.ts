import type { BenchResults } from './report.js';

interface Metric {
  name: string;
  a: number | undefined;
  b: number | undefined;
}

/**
 * `pnpm bench --compare A.json B.json`: every number the two runs share,
 * side by side, with B's ratio to A. For throughput a ratio above 1 is
 * better; for latency, memory and seconds, below 1 is.
 */
export function compareRuns(a: BenchResults, b: BenchResults, nameA = 'A', nameB = 'B'): string {
  const metrics: Metric[] = [];
  const add = (name: string, pick: (run: BenchResults) => number | undefined) => metrics.push({ name, a: safe(() => pick(a)), b: safe(() => pick(b)) });
  const setups = new Set([...a.throughput, ...b.throughput].map((t) => t.setup));
  for (const setup of setups) {
    const row = (run: BenchResults) => run.throughput.find((t) => t.setup === setup);
    add(`${setup}: page req/s`, (run) => row(run)?.page.reqPerSec);
    add(`${setup}: page p99 ms`, (run) => row(run)?.page.p99);
    add(`${setup}: CPU ms per page`, (run) => row(run)?.page.cpuMsPerRequest);
    add(`${setup}: /healthz req/s`, (run) => row(run)?.healthz?.reqPerSec);
  }
  add('cold start s', (run) => run.coldStart.seconds);
  add('reload failed requests', (run) => run.reload.failed);
  add('deploy s', (run) => run.deploy.seconds);
  add('deploy failed requests', (run) => run.deploy.failed);
  const streamSetups = new Set([...(a.streams ?? []), ...(b.streams ?? [])].map((row) => row.setup));
  if (streamSetups.size === 0) streamSetups.add('kit, file backend');
  for (const setup of streamSetups) {
    // Runs from before the stream rows had only the file backend, under `sse`.
    const row = (run: BenchResults) => run.streams?.find((s) => s.setup === setup) ?? (setup === 'kit, file backend' ? run.sse : undefined);
    add(`${setup}: memory per stream KiB`, (run) => row(run)?.memoryPerStreamKiB);
    add(`${setup}: idle p50 ms`, (run) => row(run)?.idle.p50);
    add(`${setup}: idle p99 ms`, (run) => row(run)?.idle.p99);
    add(`${setup}: held p50 ms`, (run) => row(run)?.latency.p50);
    add(`${setup}: held p99 ms`, (run) => row(run)?.latency.p99);
  }
  for (const server of new Set([...(a.idleMemory ?? []), ...(b.idleMemory ?? [])].map((row) => row.server))) {
    const row = (run: BenchResults) => run.idleMemory?.find((m) => m.server === server);
    add(`${server}: heap per idle stream KiB`, (run) => row(run)?.perStreamKiB.heapUsed);
    add(`${server}: resident per idle stream KiB`, (run) => row(run)?.perStreamKiB.rss);
  }
  const counts = new Set([...(a.scaling ?? []), ...(b.scaling ?? [])].map((row) => row.workers));
  for (const workers of [...counts].sort((x, y) => x - y)) {
    const row = (run: BenchResults) => run.scaling?.find((s) => s.workers === workers);
    add(`${workers} workers: page req/s`, (run) => row(run)?.pageReqPerSec);
    add(`${workers} workers: fan-out p99 ms`, (run) => row(run)?.latency.p99);
  }
  add('scale: streams established', (run) => run.scale?.established);
  add('scale: memory per idle stream KiB', (run) => run.scale?.memoryPerStreamKiB);
  add('scale: reload s', (run) => run.scale?.reload.seconds);
  const cell = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? '–' : String(value));
  const ratio = ({ a: x, b: y }: Metric) => (x === undefined || y === undefined || !Number.isFinite(x) || !Number.isFinite(y) || x === 0 ? '–' : `${(y / x).toFixed(2)}×`);
  const shown = metrics.filter((m) => m.a !== undefined || m.b !== undefined);
  return `# ${nameB} compared with ${nameA}

A: ${a.when}, ${a.machine.cores} cores${a.quick ? ' (quick run)' : ''}. B: ${b.when}, ${b.machine.cores} cores${b.quick ? ' (quick run)' : ''}.
Ratio is B / A: above 1 is better for req/s, below 1 for ms, KiB, seconds and failures.

| metric | A | B | B / A |
| --- | ---: | ---: | ---: |
${shown.map((m) => `| ${m.name} | ${cell(m.a)} | ${cell(m.b)} | ${ratio(m)} |`).join('\n')}
`;
}

function safe(pick: () => number | undefined): number | undefined {
  try {
    const value = pick();
    return typeof value === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}
