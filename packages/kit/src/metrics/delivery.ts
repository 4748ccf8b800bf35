import { workerMetrics } from './holder.js';

/**
 * Notes that a live event stream of this worker hands `event` over to its
 * client now: the publish-to-delivery latency (now − event.at). Called by
 * the event stream writer, once per stream and event; a no-op outside the
 * kit's worker. Clocks of other hosts may run ahead: never below zero.
 */
export function eventDelivered(event: { at: string }): void {
  const metrics = workerMetrics();
  if (!metrics) return;
  const at = Date.parse(event.at);
  if (Number.isFinite(at)) metrics.delivery.observe(Math.max(0, Date.now() - at) / 1000);
}
