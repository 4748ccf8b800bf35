import type { IncomingMessage, ServerResponse } from 'node:http';
import { instanceId } from '../../runtime/context.js';
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
