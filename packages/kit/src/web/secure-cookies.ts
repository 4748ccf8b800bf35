import type { OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { TrustedProxies, type Handler } from '../server/index.js';

/**
 * Adds `Secure` to every cookie the app sets on an HTTPS request, and only
 * there (a Secure cookie set over plain HTTP never comes back). HTTPS means
 * TLS on this socket, or `X-Forwarded-Proto: https` from a trusted proxy
 * (web.trustedProxies, loopback by default); the header from anyone else is
 * ignored.
 */
export function secureCookiesOverHttps(handler: Handler, proxies: TrustedProxies = new TrustedProxies(['loopback'])): Handler {
  return (req, res) => {
    if (proxies.protocol(req) === 'https') {
      const writeHead = res.writeHead;
      res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
        for (const arg of args) if (arg && typeof arg === 'object' && !Array.isArray(arg)) secureInHeaders(arg as OutgoingHttpHeaders);
        const set = this.getHeader('set-cookie');
        if (set !== undefined) this.setHeader('set-cookie', secure(set));
        return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
      } as typeof res.writeHead;
    }
    return handler(req, res);
  };
}

export function isLoopback(address: string | undefined): boolean {
  return address !== undefined && (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.'));
}

function secureInHeaders(headers: OutgoingHttpHeaders): void {
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === 'set-cookie' && headers[key] !== undefined) headers[key] = secure(headers[key]!);
  }
}

function secure(value: OutgoingHttpHeader): OutgoingHttpHeader {
  const add = (cookie: string) => (/;\s*secure\s*(;|$)/i.test(cookie) ? cookie : `${cookie}; Secure`);
  if (Array.isArray(value)) return value.map(add);
  return typeof value === 'string' ? add(value) : value;
}
