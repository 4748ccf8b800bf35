import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from './respond.js';

export interface HealthFacts {
  build: string;
  startedAt: number;
}

/**
 * GET /healthz: proves that this worker, of this build, answers. The body
 * says which worker it is, so a caller can tell when it has heard from all.
 */
export function healthz(facts: HealthFacts) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(res, 405, { error: 'method not allowed' }, { Allow: 'GET, HEAD' });
    }
    sendJson(res, 200, {
      status: 'ok',
      pid: process.pid,
      instance: instanceId(),
      build: facts.build,
      uptimeMs: Date.now() - facts.startedAt,
    }, { 'Cache-Control': 'no-store' });
  };
}

/** PM2's instance number (0..N-1) in cluster mode; null when started by hand. */
export function instanceId(): number | null {
  const raw = process.env.NODE_APP_INSTANCE;
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : null;
}
