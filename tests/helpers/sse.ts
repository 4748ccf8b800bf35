import http from 'node:http';
import { waitFor } from './wait.js';

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
  /** Which connection (0, 1, …) delivered it, and that connection's worker. */
  connection: number;
  worker: string;
  /** When it arrived (ms since epoch). */
  at: number;
}

export interface SseClientOptions {
  lastEventId?: string;
  /** Reconnect, as EventSource does, with Last-Event-ID, after the server's `retry:` delay. */
  reconnect?: boolean;
  headers?: Record<string, string>;
}

/**
 * A small EventSource for tests: parses the stream per the HTML spec
 * (fields, comments, `retry:`, last event id), one new connection each time
 * (so the cluster may hand it to any worker), and records what arrived on
 * which connection from which worker.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: { text: string; at: number; connection: number }[] = [];
  /** x-worker of each connection, in order. */
  readonly workers: string[] = [];
  readonly statuses: number[] = [];
  lastEventId: string | undefined;
  retryMs = 1000;
  closed = false;
  #request: http.ClientRequest | undefined;
  #timer: NodeJS.Timeout | undefined;
  #opened: Promise<void>;

  constructor(
    readonly url: string,
    readonly options: SseClientOptions = {},
  ) {
    this.lastEventId = options.lastEventId;
    this.#opened = this.#connect();
  }

  /** Resolves once the first connection's headers arrived. */
  opened(): Promise<void> {
    return this.#opened;
  }

  get connections(): number {
    return this.workers.length;
  }

  ids(): string[] {
    return this.events.filter((e) => e.id !== undefined && e.event === 'message').map((e) => e.id!);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.#timer);
    this.#request?.destroy();
  }

  #connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { Accept: 'text/event-stream', ...this.options.headers };
      if (this.lastEventId !== undefined && this.connections > 0) headers['Last-Event-ID'] = this.lastEventId;
      const url = this.connections === 0 && this.lastEventId !== undefined && !this.options.headers?.['Last-Event-ID']
        ? withQuery(this.url, this.lastEventId)
        : this.url;
      const req = http.get(url, { headers, agent: false }, (res) => {
        const connection = this.workers.length;
        this.workers.push(String(res.headers['x-worker'] ?? '?'));
        this.statuses.push(res.statusCode ?? 0);
        resolve();
        if (res.statusCode !== 200) {
          res.resume();
          this.closed = true; // Like EventSource: anything but 200 ends it for good.
          return;
        }
        res.setEncoding('utf8');
        let buffer = '';
        let pending = { id: undefined as string | undefined, event: '', data: [] as string[], hasId: false };
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let newline: number;
          while ((newline = buffer.indexOf('\n')) !== -1) {
            const line = buffer.slice(0, newline).replace(/\r$/, '');
            buffer = buffer.slice(newline + 1);
            if (line === '') {
              if (pending.hasId) this.lastEventId = pending.id;
              if (pending.data.length > 0) {
                this.events.push({
                  id: pending.hasId ? pending.id : undefined,
                  event: pending.event || 'message',
                  data: pending.data.join('\n'),
                  connection,
                  worker: this.workers[connection]!,
                  at: Date.now(),
                });
              }
              pending = { id: undefined, event: '', data: [], hasId: false };
              continue;
            }
            if (line.startsWith(':')) {
              this.comments.push({ text: line.slice(1).trim(), at: Date.now(), connection });
              continue;
            }
            const colon = line.indexOf(':');
            const field = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'id') {
              pending.id = value;
              pending.hasId = true;
            } else if (field === 'event') pending.event = value;
            else if (field === 'data') pending.data.push(value);
            else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
          }
        });
        res.on('end', () => this.#reconnect());
        res.on('error', () => this.#reconnect());
      });
      req.on('error', (error) => {
        if (this.connections === 0) reject(error);
        this.#reconnect();
      });
      this.#request = req;
    });
  }

  #reconnect(): void {
    if (this.closed || !this.options.reconnect) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#connect().catch(() => this.#reconnect()), this.retryMs);
  }
}

function withQuery(url: string, lastEventId: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('lastEventId', lastEventId);
  return parsed.toString();
}

/** Reads a topic from after `lastEventId` until the server says `caught-up`, then closes: the backlog a reconnect gets. */
export async function readBacklog(url: string, lastEventId: string, timeoutMs = 30_000): Promise<SseClient> {
  const client = new SseClient(url, { headers: { 'Last-Event-ID': lastEventId } });
  try {
    await waitFor(`the stream from ${lastEventId} to catch up`, () => client.events.some((e) => e.event === 'caught-up'), { timeoutMs });
  } finally {
    client.close();
  }
  return client;
}

/** The `data` of a stream message, as published. */
export function payload<T = unknown>(event: SseEvent): T {
  return (JSON.parse(event.data) as { data: T }).data;
}
