import type { MetricsService } from './service.js';
import type { WorkerMetrics } from './worker-metrics.js';

// This process's metrics, on globalThis: the site's bundle may hold its own
// copy of the kit's modules (the event stream code that reports deliveries
// runs there), and both must find the same metrics. A module of its own,
// importing prom-client for its types only, so that the site's bundle does
// not take in prom-client for one call.
const key = Symbol.for('astro-cluster-kit.metrics');
type Holder = { [key]?: WorkerMetrics };

/** This process's metrics; undefined outside the kit's worker (`astro dev`, an agent, a command). */
export function workerMetrics(): WorkerMetrics | undefined {
  return (globalThis as Holder)[key];
}

/** Keeps `make()`'s metrics for this process, made once. */
export function holdWorkerMetrics(make: () => WorkerMetrics): WorkerMetrics {
  const holder = globalThis as Holder;
  return (holder[key] ??= make());
}

const serviceKey = Symbol.for('astro-cluster-kit.metrics-service');
type ServiceHolder = { [serviceKey]?: MetricsService };

/** This worker's metrics service (the whole cluster's scrape); undefined outside the kit's worker. */
export function metricsService(): MetricsService | undefined {
  return (globalThis as ServiceHolder)[serviceKey];
}

export function holdMetricsService(service: MetricsService): void {
  (globalThis as ServiceHolder)[serviceKey] = service;
}
