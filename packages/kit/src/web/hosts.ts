import type { IncomingMessage } from 'node:http';
import { pathOf, type Handler, type TrustedProxies } from '../server/index.js';
import { sendJson } from './routes/respond.js';
import { isLoopback } from './secure-cookies.js';

/**
 * Answers only requests whose Host is one of `hosts` (SITE_HOSTS /
 * web.hosts), before the site runs: a site builds links and checks origins
 * from the Host header, and a request for another name (DNS rebinding, a
 * scanner) has no business there. 421 for another Host, 400 for none. The
 * health path stays open to loopback clients and trusted proxies
 * (web.trustedProxies) whatever their Host, so local checks and a proxy's
 * health checks keep working; `*` in the list allows any Host.
 */
export function allowedHostsOnly(hosts: readonly string[], healthPath: string, handler: Handler, proxies?: TrustedProxies): Handler {
  const any = hosts.includes('*');
  const allowed = new Set(hosts.map((host) => host.toLowerCase()));
  return (req, res) => {
    if (any) return handler(req, res);
    const host = hostName(req);
    if (host !== undefined && allowed.has(host)) return handler(req, res);
    if (pathOf(req.url) === healthPath && (isLoopback(req.socket.remoteAddress) || proxies?.trusts(req.socket.remoteAddress))) return handler(req, res);
    if (host === undefined) return sendJson(res, 400, { error: 'a Host header is required' }, { Connection: 'close' });
    return sendJson(res, 421, { error: 'this server does not answer for that host' }, { Connection: 'close' });
  };
}

/** The Host header's name without its port, lower-case (an IPv6 address keeps its brackets). */
export function hostName(req: IncomingMessage): string | undefined {
  const header = req.headers.host?.trim().toLowerCase();
  if (!header) return undefined;
  const match = /^(\[[^\]]*\]|[^:]*)(?::\d*)?$/.exec(header);
  return match?.[1] || undefined;
}
