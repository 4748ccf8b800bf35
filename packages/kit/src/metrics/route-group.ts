/**
 * The route groups requests are counted under. The kit does not know the
 * site's routes, and a label per URL would let anyone grow the metrics
 * without bound (one hostile crawler, a million series): so a request is
 * put in one of these few groups, from its path and its response.
 */
export const routeGroups = ['page', 'api', 'asset', 'stream', 'health', 'metrics', 'other'] as const;
export type RouteGroup = (typeof routeGroups)[number];

export interface GroupPaths {
  healthPath: string;
  metricsPath: string;
}

/**
 * `path` is the request's path without its query; `contentType` and
 * `status` are the response's. In order: the kit's own paths, event
 * streams (by content type), `/api/…` or a JSON answer, a path that names
 * a file (an extension, or Astro's /_astro/ folder), an HTML answer or a
 * redirect (a page's), and anything else.
 */
export function routeGroup(path: string, contentType: string | undefined, status: number, paths: GroupPaths): RouteGroup {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
  if (trimmed === paths.healthPath) return 'health';
  if (trimmed === paths.metricsPath) return 'metrics';
  const type = (contentType ?? '').toLowerCase();
  if (type.startsWith('text/event-stream')) return 'stream';
  if (path.startsWith('/api/') || trimmed === '/api' || type.startsWith('application/json')) return 'api';
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (path.startsWith('/_astro/') || /\.[A-Za-z0-9]{1,8}$/.test(last)) return 'asset';
  if (type.startsWith('text/html') || (status >= 300 && status < 400)) return 'page';
  return 'other';
}

/** Exact codes worth telling apart; any other is counted by its class (`4xx`). */
const knownStatuses = new Set([200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 408, 409, 410, 413, 415, 421, 429, 500, 502, 503, 504]);

/** The status label: the code when it is a common one, else its class; `none` when no answer was sent (the client left first). */
export function statusLabel(status: number, sent: boolean): string {
  if (!sent) return 'none';
  if (knownStatuses.has(status)) return String(status);
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
}
