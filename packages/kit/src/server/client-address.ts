import type { IncomingMessage } from 'node:http';
import net from 'node:net';

/**
 * Who is asking, when a proxy stands in front: the socket's address, unless
 * that address is a trusted proxy (web.trustedProxies / TRUSTED_PROXIES),
 * whose X-Forwarded-For then names the client. Anyone can send those
 * headers, so from any other address they are ignored.
 */
export class TrustedProxies {
  readonly #ranges: Range[];

  /** `entries` as settings keep them: addresses, CIDRs, `loopback`; an empty list trusts nobody. */
  constructor(readonly entries: readonly string[]) {
    this.#ranges = entries.flatMap((entry) => (entry === 'loopback' ? [parseRange('127.0.0.0/8'), parseRange('::1/128')] : [parseRange(entry)]));
  }

  /** Whether `address` (as a socket reports it: `::ffff:10.0.0.1` counts as 10.0.0.1) is one of the proxies. */
  trusts(address: string | undefined): boolean {
    const parsed = address === undefined ? undefined : parseAddress(address);
    return parsed !== undefined && this.#ranges.some((range) => range.bytes.length === parsed.length && inRange(parsed, range));
  }

  /**
   * The client's address: the socket's, or, when the socket is a trusted
   * proxy, the right-most address of X-Forwarded-For that is not itself a
   * trusted proxy (each proxy appends the address it saw; the entries left
   * of the last untrusted one were written by the client and prove nothing).
   * When every entry is trusted, the left-most one.
   */
  clientAddress(req: IncomingMessage): string {
    const socket = req.socket.remoteAddress ?? 'unknown';
    if (!this.trusts(socket)) return socket;
    const forwarded = headerList(req.headers['x-forwarded-for']).filter((entry) => net.isIP(entry) !== 0);
    for (let i = forwarded.length - 1; i >= 0; i--) if (!this.trusts(forwarded[i])) return forwarded[i]!;
    return forwarded[0] ?? socket;
  }

  /** The request's scheme: `https` on a TLS socket, else X-Forwarded-Proto from a trusted proxy, else `http`. */
  protocol(req: IncomingMessage): 'http' | 'https' {
    if ((req.socket as { encrypted?: boolean }).encrypted) return 'https';
    if (!this.trusts(req.socket.remoteAddress)) return 'http';
    return headerList(req.headers['x-forwarded-proto'])[0]?.toLowerCase() === 'https' ? 'https' : 'http';
  }
}

interface Range {
  bytes: number[];
  bits: number;
}

function headerList(header: string | string[] | undefined): string[] {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
}

function parseRange(entry: string): Range {
  const [address = '', bits] = entry.split('/');
  const bytes = parseAddress(address);
  if (!bytes) throw new Error(`not an address or CIDR: ${entry}`);
  return { bytes, bits: bits === undefined ? bytes.length * 8 : Number(bits) };
}

function inRange(address: number[], { bytes, bits }: Range): boolean {
  for (let i = 0; i < bytes.length && bits > i * 8; i++) {
    const mask = bits >= (i + 1) * 8 ? 0xff : (0xff << (8 - (bits - i * 8))) & 0xff;
    if ((address[i]! & mask) !== (bytes[i]! & mask)) return false;
  }
  return true;
}

/** The bytes of an IPv4 (4) or IPv6 (16) address; an IPv4-mapped IPv6 address gives its IPv4 bytes. */
export function parseAddress(raw: string): number[] | undefined {
  const address = raw.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = net.isIP(address);
  if (family === 4) return address.split('.').map(Number);
  if (family !== 6) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return parseAddress(mapped[1]!);
  // Expand `::`, and a trailing dotted IPv4 part into two groups.
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -dotted[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.flatMap((group) => {
    const value = parseInt(group, 16);
    return [value >> 8, value & 0xff];
  });
}
