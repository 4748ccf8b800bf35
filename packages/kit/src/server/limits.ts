import type { IncomingMessage, ServerResponse } from 'node:http';
import { TrustedProxies } from './client-address.js';
import { detachedSocket } from './detach.js';
import type { Handler } from './guard.js';

export interface LimitCaps {
  /** Open connections per worker; past it a request is answered 503 with `Connection: close`. */
  maxConnections: number;
  /** Event streams per worker; past it a new one is answered 503. */
  maxStreams: number;
  /** Event streams per remote address per worker; past it a new one is answered 429. */
  maxStreamsPerClient: number;
}

export interface Refusal {
  status: 429 | 503;
  retryAfterS: number;
  reason: string;
}

export interface LimitStats extends LimitCaps {
  connections: number;
  streams: number;
  refusedConnections: number;
  refusedStreams: number;
}

/**
 * The caps that keep one client (or many) from taking a worker down. A
 * worker that runs out of file descriptors can no longer receive the
 * connections the cluster primary hands it, and never recovers; so the
 * worker answers 503 or 429 well before that, and never leaves a socket
 * hanging. Streams are counted per client address: the socket's, or what
 * X-Forwarded-For says when the socket is a trusted proxy (anyone else can
 * send that header, so from anyone else it is ignored).
 */
export class Limits {
  readonly caps: LimitCaps;
  #connections = 0;
  #streams = 0;
  readonly #perClient = new Map<string, number>();
  #refusedConnections = 0;
  #refusedStreams = 0;

  readonly #proxies: TrustedProxies;

  /** `proxies`: whose X-Forwarded-For names the client (web.trustedProxies); default nobody's. */
  constructor(caps: LimitCaps, proxies: TrustedProxies = new TrustedProxies([])) {
    this.caps = caps;
    this.#proxies = proxies;
  }

  /** Counts an accepted connection; true when it is over the cap (its requests are refused). */
  openConnection(): boolean {
    this.#connections += 1;
    return this.#connections > this.caps.maxConnections;
  }

  closeConnection(): void {
    this.#connections -= 1;
  }

  refuseConnection(): Refusal {
    this.#refusedConnections += 1;
    return { status: 503, retryAfterS: 5, reason: `this worker holds ${this.caps.maxConnections} connections, its most` };
  }

  /** Why a new stream from this request must be refused, if it must. */
  refuseStream(req: IncomingMessage): Refusal | undefined {
    const client = this.#proxies.clientAddress(req);
    let refusal: Refusal | undefined;
    if ((this.#perClient.get(client) ?? 0) >= this.caps.maxStreamsPerClient)
      refusal = { status: 429, retryAfterS: 10, reason: `this client holds ${this.caps.maxStreamsPerClient} event streams on this worker, its most` };
    else if (this.#streams >= this.caps.maxStreams) refusal = { status: 503, retryAfterS: 5, reason: `this worker holds ${this.caps.maxStreams} event streams, its most` };
    if (refusal) this.#refusedStreams += 1;
    return refusal;
  }

  /** Counts an event stream until its response closes. */
  addStream(req: IncomingMessage, res: ServerResponse): void {
    const client = this.#proxies.clientAddress(req);
    this.#streams += 1;
    this.#perClient.set(client, (this.#perClient.get(client) ?? 0) + 1);
    // `on`, not `once` (here and in the other per-request listeners): 'close' comes once anyway, and `once` wraps each
    // listener in two more objects that every held stream would keep for its whole life.
    const release = this.#releaser(client);
    // A stream detached from its response (server/detach.ts) goes on until its socket closes.
    res.on('close', () => {
      const socket = detachedSocket(res);
      if (socket) socket.on('close', release);
      else release();
    });
  }

  /** Made apart from addStream: a closure made there would share its scope, and keep the detached response alive. */
  #releaser(client: string): () => void {
    return () => {
      this.#streams -= 1;
      const left = (this.#perClient.get(client) ?? 1) - 1;
      if (left > 0) this.#perClient.set(client, left);
      else this.#perClient.delete(client);
    };
  }

  stats(): LimitStats {
    return { ...this.caps, connections: this.#connections, streams: this.#streams, refusedConnections: this.#refusedConnections, refusedStreams: this.#refusedStreams };
  }
}

/**
 * Refuses a request for an event stream (`Accept: text/event-stream`) before
 * the handler runs when the caps are reached, and counts every response that
 * turns out to be one (`onStream`, called by whoever sees the response's
 * content type: web/slow-streams.ts).
 */
export function limitStreams(limits: Limits, handler: Handler): Handler {
  return (req, res) => {
    if (String(req.headers.accept ?? '').includes('text/event-stream')) {
      const refusal = limits.refuseStream(req);
      if (refusal) return sendRefusal(res, refusal, false);
    }
    return handler(req, res);
  };
}

/** 503 or 429 with Retry-After and a one-line reason; `close` also asks the client to close the connection. */
export function sendRefusal(res: ServerResponse, refusal: Refusal, close: boolean): void {
  const body = `${refusal.status === 429 ? 'Too many requests' : 'Service unavailable'}: ${refusal.reason}; try again in ${refusal.retryAfterS} s.\n`;
  res.writeHead(refusal.status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Retry-After': String(refusal.retryAfterS),
    'Cache-Control': 'no-store',
    ...(close && { Connection: 'close' }),
  });
  res.end(body);
}
