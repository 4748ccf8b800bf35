import { eventLog } from 'astro-cluster-kit/events';

/** The shared event log this worker uses (files under LOGS_DIR, or Redis Streams), for pages that read history. */
export function events() {
  return eventLog();
}
