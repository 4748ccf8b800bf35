import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathOf } from '../server/guard.js';
import { routeGroup, statusLabel, type GroupPaths } from './route-group.js';
import { workerMetrics } from './holder.js';

/**
 * Counts one request once its response is done (finished, or cut when the
 * client left): its route group and status, and its duration. The server
 * calls it first for every request, so refusals at the caps and the
 * guard's 400/405 are counted too.
 */
export function countRequest(req: IncomingMessage, res: ServerResponse, paths: GroupPaths): void {
  const metrics = workerMetrics();
  if (!metrics) return;
  const started = process.hrtime.bigint();
  // Headers given to writeHead (as Astro's adapter gives them) never reach getHeader: note the content type on the way.
  let contentType: string | undefined;
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    contentType = contentTypeOf(args) ?? headerText(this.getHeader('content-type'));
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof res.writeHead;
  res.on('close', () => {
    const group = routeGroup(pathOf(req.url), contentType ?? headerText(res.getHeader('content-type')), res.statusCode, paths);
    metrics.requests.inc({ group, status: statusLabel(res.statusCode, res.headersSent) });
    if (group !== 'stream') metrics.duration.observe({ group }, Number(process.hrtime.bigint() - started) / 1e9);
  });
}

/** The content type among writeHead's arguments: an object of headers, or a flat [name, value, …] list. */
function contentTypeOf(args: unknown[]): string | undefined {
  for (const arg of args) {
    if (Array.isArray(arg)) {
      for (let i = 0; i + 1 < arg.length; i += 2) if (String(arg[i]).toLowerCase() === 'content-type') return String(arg[i + 1]);
    } else if (arg && typeof arg === 'object') {
      for (const [key, value] of Object.entries(arg)) if (key.toLowerCase() === 'content-type') return headerText(value as string | number | string[]);
    }
  }
  return undefined;
}

function headerText(value: string | number | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value?.toString();
}
