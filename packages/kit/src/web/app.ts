import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathOf, type Handler } from '../server/index.js';

export type Route = (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => void | Promise<void>;

/** `/api/events/:topic` style patterns; `:name` matches one path segment. */
export interface RouteTable {
  [pattern: string]: Route;
}

/**
 * The worker's request pipeline: the kit's own routes first (health, events,
 * tasks), everything else to the Astro build.
 */
export function createApp(routes: RouteTable, site: Handler): Handler {
  const compiled = Object.entries(routes).map(([pattern, route]) => ({ ...compile(pattern), route }));
  return (req, res) => {
    const pathname = pathOf(req.url);
    for (const { regex, names, route } of compiled) {
      const match = regex.exec(pathname);
      if (!match) continue;
      const params = Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? '')]));
      return route(req, res, params);
    }
    return site(req, res);
  };
}

function compile(pattern: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  const source = pattern
    .split('/')
    .map((segment) => {
      if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(segment.slice(1));
      return '([^/]+)';
    })
    .join('/');
  return { regex: new RegExp(`^${source}/?$`), names };
}
