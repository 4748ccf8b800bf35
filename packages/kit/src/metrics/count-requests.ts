import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathOf } from '../server/guard.js';
import { routeGroup, statusLabel, type GroupPaths } from './route-group.js';
import { workerMetrics } from './worker-metrics.js';

/**
 * Counts one request once its response is done (finished, or cut when the
 * client left): its route group and status, and its duration. The server
 * calls it first for every request, so refusals at the caps and the
 * guard's 400/405 are counted too. `paths` are read on each call (cheap)
 * so that the same hook serves any worker's settings.
 */
export function countRequest(req: IncomingMessage, res: ServerResponse, paths: GroupPaths): void {
  const metrics = workerMetrics();
  if (!metrics) return;
  const started = process.hrtime.bigint();
  res.once('close', () => {
    const contentType = res.getHeader('content-type');
    const group = routeGroup(pathOf(req.url), Array.isArray(contentType) ? contentType[0] : contentType?.toString(), res.statusCode, paths);
    metrics.requests.inc({ group, status: statusLabel(res.statusCode, res.headersSent) });
    if (group !== 'stream') metrics.duration.observe({ group }, Number(process.hrtime.bigint() - started) / 1e9);
  });
}
