/** The address a client on this machine uses to reach a server bound to `host`: a wildcard bind is reached over loopback. */
export function reachableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

/** The URL a browser or probe on this machine uses to reach HOST:PORT (IPv6 in brackets). */
export function localUrl(host: string, port: number, secure = false): string {
  const reachable = reachableHost(host);
  return `${secure ? 'https' : 'http'}://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}
