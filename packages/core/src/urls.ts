/** The URL a browser or probe on this machine uses to reach HOST:PORT (a wildcard bind is reached over loopback; IPv6 in brackets). */
export function localUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}
