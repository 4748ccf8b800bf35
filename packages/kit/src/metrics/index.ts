// astro-cluster-kit/metrics: Prometheus metrics of the whole cluster. The
// kit's worker serves them on METRICS_PATH (default /metrics) to the events
// token, and on METRICS_PORT (loopback, no auth) when set; a site serves
// them to its operator sessions with one endpoint at the same path:
//
//   // src/pages/metrics.ts (behind the site's operator check)
//   import { metricsResponse } from 'astro-cluster-kit/metrics';
//   export const GET = () => metricsResponse();
import { metricsService } from './holder.js';

export { eventDelivered } from './delivery.js';
export { metricsTopic, WINDOW_MS, withinWindow, type MetricsPoint } from './point.js';
export { routeGroup, routeGroups, statusLabel, type RouteGroup } from './route-group.js';
export { quantile, quantileBetween, ratePerSecond, type Bucket } from './quantile.js';
export { mergeRegistries, PEER_DEADLINE_MS } from './gather.js';
export { eventLogSize, MAX_TOPICS, type EventLogSize } from './event-log-size.js';
export { answerPeers, gatherPeers, socketDir, type Gathered, type PeerAnswer, type RegistryJson } from './peers.js';
export { pointBetween, type Reading } from './point.js';
export { WorkerMetrics, type WorkerMetricsOptions } from './worker-metrics.js';

/** The whole cluster's metrics in Prometheus's text format, gathered now; 503 outside the kit's worker (`astro dev`). */
export async function metricsResponse(): Promise<Response> {
  const service = metricsService();
  if (!service) return new Response('Metrics are served by the kit\'s worker only.\n', { status: 503, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  const scrape = await service.scrape();
  return new Response(scrape.text, { status: 200, headers: { 'Content-Type': scrape.contentType, 'Cache-Control': 'no-store', 'x-metrics-workers': scrape.workers.join(',') } });
}
