import type { IncomingMessage, ServerResponse } from 'node:http';
import { instanceId } from '../../runtime/context.js';
import { sendJson } from './respond.js';

export interface HealthFacts {
  build: string;
  startedAt: number;
  /** Set when the worker serves the last good release instead of SITE_DIR's build. */
  degraded?: { wanted: string; reason: string } | undefined;
  /** True while this host is out of the proxy's rotation (hosts/rotation.ts): then 503, so a proxy that checks moves traffic away. */
  outOfRotation?: () => boolean;
}

/**
 * GET /healthz: proves that this worker, of this build, answers. The body
 * says which worker it is, so a caller can tell when it has heard from all.
 * A degraded worker still answers 200 (it serves), with `status: "degraded"`,
 * `build` (what it serves), `wanted` and `reason` (what it could not load).
 * A host taken out of the proxy's rotation answers 503 with the same body
 * and `status: "out-of-rotation"`: it still serves, but asks to get no new
 * traffic.
 */
export function healthz(facts: HealthFacts) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(res, 405, { error: 'method not allowed' }, { Allow: 'GET, HEAD' });
    }
    const out = facts.outOfRotation?.() === true;
    sendJson(res, out ? 503 : 200, {
      status: out ? 'out-of-rotation' : facts.degraded ? 'degraded' : 'ok',
      pid: process.pid,
      instance: instanceId(),
      build: facts.build,
      ...(facts.degraded && { wanted: facts.degraded.wanted, reason: facts.degraded.reason }),
      uptimeMs: Date.now() - facts.startedAt,
    }, { 'Cache-Control': 'no-store', ...(out && { 'Retry-After': '5' }) });
  };
}
