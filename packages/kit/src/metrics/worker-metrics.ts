import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LimitStats } from '../server/index.js';
import { holdWorkerMetrics } from './holder.js';

/** Seconds; the usual web latencies, from 5 ms to 10 s. */
const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Publish-to-delivery is mostly milliseconds (a file watch, a Redis XREAD): finer at the low end. */
const deliveryBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface WorkerMetricsOptions {
  /** The `worker` label every series of this process carries: PM2's instance number, or `standalone`. */
  worker: string;
  build: string;
  /** This worker's open connections and streams, read on each scrape. */
  stats?: () => LimitStats;
}

/**
 * One process's metrics, in a registry of its own (never prom-client's
 * global one, which a site's code may fill too) whose every series carries
 * the `worker` label: the worker answering a scrape merges all workers'
 * registries, and counters and histograms stay summable across workers.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly worker: string;
  readonly requests: Counter<'group' | 'status'>;
  readonly duration: Histogram<'group'>;
  readonly delivery: Histogram;
  /** Scrapes this worker answered while a peer stayed silent past the deadline (its series were left out). */
  readonly unanswered: Counter;

  constructor(options: WorkerMetricsOptions) {
    this.worker = options.worker;
    const registers = [this.registry];
    this.registry.setDefaultLabels({ worker: options.worker });
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'astro_cluster_http_requests_total', help: 'Requests answered, by route group and status (exact for common codes, else the class).', labelNames: ['group', 'status'], registers });
    this.duration = new Histogram({
      name: 'astro_cluster_http_request_duration_seconds',
      help: 'From the request to the end of its response, by route group; event streams are left out (their duration is how long the client stayed).',
      labelNames: ['group'],
      buckets: durationBuckets,
      registers,
    });
    this.delivery = new Histogram({ name: 'astro_cluster_event_delivery_seconds', help: 'From an event\'s publication to its hand-over to a live event stream of this worker (one observation per stream).', buckets: deliveryBuckets, registers });
    this.unanswered = new Counter({ name: 'astro_cluster_metrics_unanswered_total', help: 'Peers that did not answer a scrape this worker gathered in time: their series were missing from that scrape.', registers });
    const stats = options.stats;
    new Gauge({
      name: 'astro_cluster_open_connections',
      help: 'Open TCP connections of this worker.',
      registers,
      collect() {
        if (stats) this.set(stats().connections);
      },
    });
    new Gauge({
      name: 'astro_cluster_open_streams',
      help: 'Open event streams (text/event-stream responses) of this worker.',
      registers,
      collect() {
        if (stats) this.set(stats().streams);
      },
    });
    new Counter({
      name: 'astro_cluster_refused_total',
      help: 'Connections and streams this worker refused at its caps (503/429).',
      labelNames: ['what'],
      registers,
      collect() {
        if (!stats) return;
        const now = stats();
        this.reset();
        this.inc({ what: 'connection' }, now.refusedConnections);
        this.inc({ what: 'stream' }, now.refusedStreams);
      },
    });
    // PM2 copies its record of the process into the worker's environment when it forks it: restart_time counts
    // every restart of this worker slot (crashes, `pm2 restart`, and each reload) before this process.
    const restarts = Number(process.env.restart_time);
    new Counter({ name: 'astro_cluster_worker_restarts_total', help: 'Restarts and reloads of this worker slot, as PM2 counts them (restart_time).', registers }).inc(Number.isFinite(restarts) && restarts > 0 ? restarts : 0);
    new Gauge({ name: 'astro_cluster_build_info', help: 'The build this worker serves (always 1).', labelNames: ['build'], registers }).set({ build: options.build }, 1);
  }
}

/** Made once per process by the kit's worker (metrics/holder.ts keeps it where the site's bundle finds it too). */
export function installWorkerMetrics(options: WorkerMetricsOptions): WorkerMetrics {
  return holdWorkerMetrics(() => new WorkerMetrics(options));
}
