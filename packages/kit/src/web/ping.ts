import type { LimitStats } from '../server/index.js';

/** The topic of the watchdog's pings over PM2's IPC (pm2.sendDataToProcessId), and of the answers on its bus. */
export const pingTopic = 'astro-cluster:ping';
export const pongType = 'astro-cluster:pong';

/**
 * Answers the pm2-monitor's pings with this worker's counts. The watchdog
 * cannot probe one worker over HTTP (the cluster primary picks who gets a
 * connection), so it asks each worker over PM2's IPC instead: a worker whose
 * event loop is stuck, or that is stopped, does not answer.
 */
export function answerPings(stats: () => LimitStats): void {
  if (!process.send) return;
  process.on('message', (packet: unknown) => {
    const message = packet as { topic?: unknown; data?: { seq?: unknown } } | null;
    if (!message || message.topic !== pingTopic) return;
    process.send?.({ type: pongType, data: { seq: message.data?.seq ?? null, pid: process.pid, ...stats() } });
  });
}
