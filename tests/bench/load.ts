import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export interface LoadResult {
  path: string;
  connections: number;
  seconds: number;
  requests: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** Server CPU (user + system) per request, in milliseconds, over the server's processes. */
  cpuMsPerRequest: number | undefined;
}

const TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

/** CPU used so far by these processes (user + system), in clock ticks, from /proc. */
export function cpuTicks(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += Number(fields[11]) + Number(fields[12]);
    } catch {
      // Gone: it counts for nothing.
    }
  }
  return total;
}

/** autocannon against one path on loopback, bounded in time; CPU measured on `serverPids`. */
export async function load(base: string, path: string, options: { connections: number; seconds: number; serverPids: () => number[] }): Promise<LoadResult> {
  const run = (seconds: number) =>
    new Promise<autocannon.Result>((resolve, reject) => {
      autocannon({ url: `${base}${path}`, connections: options.connections, duration: seconds }, (error, result) => (error ? reject(error) : resolve(result)));
    });
  await run(2); // Warm-up: lazy page chunks, JIT, keep-alive sockets, on every worker.
  const pids = options.serverPids();
  const before = cpuTicks(pids);
  const result = await run(options.seconds);
  const cpuMs = ((cpuTicks(pids) - before) * 1000) / TICKS_PER_SECOND;
  return {
    path,
    connections: options.connections,
    seconds: options.seconds,
    requests: result.requests.total,
    reqPerSec: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    cpuMsPerRequest: result.requests.total > 0 ? Number((cpuMs / result.requests.total).toFixed(3)) : undefined,
  };
}

/** Keep-alive load running in the background while something else happens; stop() returns its result. */
export function backgroundLoad(base: string, paths: string[], connections: number) {
  let responses = 0;
  let finish!: (result: autocannon.Result) => void;
  const done = new Promise<autocannon.Result>((resolve) => (finish = resolve));
  const instance = autocannon(
    { url: base, connections, duration: 3600, requests: paths.map((p) => ({ path: p })) },
    (error, result) => (error ? finish({ errors: 1, non2xx: 0, requests: { total: 0 } } as autocannon.Result) : finish(result)),
  );
  instance.on('response', () => responses++);
  return {
    responses: () => responses,
    async stop() {
      instance.stop();
      const result = await done;
      return { requests: result.requests.total, errors: result.errors + result.timeouts, non2xx: result.non2xx };
    },
  };
}
