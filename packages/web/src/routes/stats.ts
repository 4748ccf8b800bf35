import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventLog } from '@kit/events';
import type { LongLivedResponses } from '@kit/server';
import { instanceId } from './healthz.js';
import { sendJson } from './respond.js';

/** GET /api/stats: what this worker holds open right now (streams, subscriptions, memory), for the ops page and leak tests. */
export function statsRoute(facts: { log: EventLog; streams: LongLivedResponses; build: string; startedAt: number }) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'GET only' }, { Allow: 'GET' });
    const memory = process.memoryUsage();
    sendJson(
      res,
      200,
      {
        pid: process.pid,
        instance: instanceId(),
        build: facts.build,
        uptimeMs: Date.now() - facts.startedAt,
        streams: facts.streams.size,
        events: { backend: facts.log.backend, ...facts.log.stats() },
        memory: { rss: memory.rss, heapUsed: memory.heapUsed },
      },
      { 'Cache-Control': 'no-store' },
    );
  };
}
