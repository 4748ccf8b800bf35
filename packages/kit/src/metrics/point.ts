import { quantileBetween, ratePerSecond, type Bucket } from './quantile.js';

/** The topic each worker publishes its points on, for /ops (operators only: it shows pids and memory). */
export const metricsTopic = 'metrics';

/** What /ops draws: the last 15 minutes are there when the page opens. */
export const WINDOW_MS = 15 * 60_000;

/** One worker's state at one moment, as read from its metrics. */
export interface Reading {
  at: number;
  requests: number;
  /** The request duration histogram, all route groups together (cumulative buckets). */
  buckets: Bucket[];
  rssBytes: number;
  heapBytes: number;
  streams: number;
  connections: number;
  restarts: number;
}

/**
 * One point on the `metrics` topic: one worker, one moment, short keys (a
 * few hundred of them open every /ops page). Rates and the p99 are over
 * the interval since the worker's previous point.
 */
export interface MetricsPoint {
  /** Worker label (PM2 instance, or `standalone`). */
  w: string;
  /** Host name: workers of several hosts share one event log. */
  h: string;
  pid: number;
  /** Epoch ms. */
  t: number;
  /** Requests per second over the interval. */
  rps: number;
  /** 99th percentile of request durations over the interval, in ms; null when there was no request. */
  p99: number | null;
  rss: number;
  heap: number;
  streams: number;
  conns: number;
  /** PM2's restart count of this worker slot (restarts and reloads). */
  restarts: number;
}

export function pointBetween(before: Reading | undefined, now: Reading, who: { worker: string; host: string; pid: number }): MetricsPoint {
  const p99 = before ? quantileBetween(before.buckets, now.buckets, 0.99) : undefined;
  return {
    w: who.worker,
    h: who.host,
    pid: who.pid,
    t: now.at,
    rps: before ? round(ratePerSecond(before.requests, now.requests, now.at - before.at), 2) : 0,
    p99: p99 === undefined ? null : round(p99 * 1000, 2),
    rss: now.rssBytes,
    heap: now.heapBytes,
    streams: now.streams,
    conns: now.connections,
    restarts: now.restarts,
  };
}

/** The points of the last `windowMs` before `now`, oldest first. */
export function withinWindow<T extends { t: number }>(points: readonly T[], now: number, windowMs = WINDOW_MS): T[] {
  return points.filter((point) => point.t >= now - windowMs && point.t <= now + 60_000).sort((a, b) => a.t - b.t);
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
