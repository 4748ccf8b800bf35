import { AggregatorRegistry, Gauge, Registry } from 'prom-client';
import type { ClusterFacts } from './cluster-facts.js';
import { gatherPeers, type PeerAnswer, type RegistryJson } from './peers.js';
import type { WorkerMetrics } from './worker-metrics.js';

/** How long a scrape waits for the other workers: a worker stuck that long is reported missing, not waited for. */
export const PEER_DEADLINE_MS = 1000;

export interface ClusterScrape {
  text: string;
  contentType: string;
  /** Workers whose series are in it, this one included. */
  workers: string[];
  /** Pids of live workers that did not answer in time. */
  late: number[];
}

/**
 * The whole cluster's metrics, as the worker that got the scrape sees them:
 * its own registry, every peer's that answered within the deadline, merged
 * by prom-client's AggregatorRegistry.aggregate (every series carries its
 * worker's label, so nothing of two workers is ever added together; two
 * processes of one worker slot, the old and the new during a reload, are
 * summed, as a counter should be), then the cluster's own facts and how
 * the gather went.
 */
export async function scrapeCluster(own: WorkerMetrics, socketDir: string, facts: ClusterFacts, deadlineMs = PEER_DEADLINE_MS): Promise<ClusterScrape> {
  const [mine, peers, cluster] = await Promise.all([own.registry.getMetricsAsJSON() as Promise<RegistryJson>, gatherPeers(socketDir, deadlineMs), facts.registry()]);
  if (peers.late.length > 0) own.unanswered.inc(peers.late.length);
  const gatherRegistry = new Registry();
  const answered = new Gauge({ name: 'astro_cluster_metrics_workers', help: 'Processes of the kit asked by this scrape, by outcome: answered (their series are here), late (alive, silent past the deadline: left out), stale (a dead process\'s socket, removed).', labelNames: ['outcome'], registers: [gatherRegistry] });
  answered.set({ outcome: 'answered' }, peers.answers.length + 1);
  answered.set({ outcome: 'late' }, peers.late.length);
  answered.set({ outcome: 'stale' }, peers.stale);
  const all = mergeRegistries([mine, ...peers.answers.map((answer) => answer.metrics)], [cluster, gatherRegistry]);
  return {
    text: await all.metrics(),
    contentType: all.contentType,
    workers: [own.worker, ...peers.answers.map((answer) => answer.worker)],
    late: peers.late,
  };
}

/**
 * Workers' registries (getMetricsAsJSON) merged into one by
 * AggregatorRegistry.aggregate: one family per name, series with equal
 * labels added together (sum, or the metric's own aggregator); then
 * registries of other names appended.
 */
export function mergeRegistries(workers: RegistryJson[], others: Registry[] = []): Registry {
  // prom-client omits what cannot be summed across unlabelled workers (process_start_time_seconds); ours carry
  // their worker label, so it stays meaningful: kept, the newest process's when a reload's two overlap.
  const kept = workers.map((metrics) => metrics.map((metric) => (metric.aggregator === 'omit' ? { ...metric, aggregator: 'max' as const } : metric)));
  const merged = AggregatorRegistry.aggregate(kept as Parameters<typeof AggregatorRegistry.aggregate>[0]) as Registry;
  return others.length === 0 ? merged : Registry.merge([merged, ...others]);
}

/** What this process tells a peer that gathers. */
export async function peerAnswer(own: WorkerMetrics): Promise<PeerAnswer> {
  return { pid: process.pid, worker: own.worker, metrics: (await own.registry.getMetricsAsJSON()) as RegistryJson };
}
