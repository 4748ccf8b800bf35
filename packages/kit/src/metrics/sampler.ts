import os from 'node:os';
import type { EventLog } from '../events/types.js';
import type { LimitStats } from '../server/index.js';
import { metricsTopic, pointBetween, type Reading } from './point.js';
import type { Bucket } from './quantile.js';
import type { WorkerMetrics } from './worker-metrics.js';

/**
 * Every `everyMs`, reads this worker's own metrics (the same counters and
 * histogram /metrics serves) and publishes one point on the `metrics`
 * topic of the shared event log. The log keeps them (retention applies),
 * so /ops opens on the last 15 minutes whichever worker serves it, and
 * follows new points live over its event stream. Returns the stop function.
 */
export function startSampler(metrics: WorkerMetrics, log: EventLog, stats: () => LimitStats, everyMs: number, say: (line: string) => void): () => void {
  const who = { worker: metrics.worker, host: os.hostname(), pid: process.pid };
  let before: Reading | undefined;
  let failing = false;
  let busy = false;
  const tick = async () => {
    if (busy) return; // A slow store: skip a beat rather than pile up publishes.
    busy = true;
    try {
      const now = await read(metrics, stats);
      const point = pointBetween(before, now, who);
      before = now;
      await log.publish(metricsTopic, point);
      if (failing) say('metrics points are published again');
      failing = false;
    } catch (error) {
      if (!failing) say(`could not publish a metrics point (tried again every ${everyMs} ms): ${(error as Error).message}`);
      failing = true;
    } finally {
      busy = false;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

async function read(metrics: WorkerMetrics, stats: () => LimitStats): Promise<Reading> {
  const [requests, duration] = await Promise.all([metrics.requests.get(), metrics.duration.get()]);
  const byLe = new Map<number, number>();
  for (const value of duration.values) {
    if (!value.metricName?.endsWith('_bucket')) continue;
    const bound = (value.labels as { le?: string | number }).le;
    const le = bound === '+Inf' ? Number.POSITIVE_INFINITY : Number(bound);
    byLe.set(le, (byLe.get(le) ?? 0) + value.value);
  }
  const buckets: Bucket[] = [...byLe].map(([le, count]) => ({ le, count }));
  const memory = process.memoryUsage();
  const limits = stats();
  const restarts = Number(process.env.restart_time);
  return {
    at: Date.now(),
    requests: requests.values.reduce((sum, value) => sum + value.value, 0),
    buckets,
    rssBytes: memory.rss,
    heapBytes: memory.heapUsed,
    streams: limits.streams,
    connections: limits.connections,
    restarts: Number.isFinite(restarts) && restarts > 0 ? restarts : 0,
  };
}
