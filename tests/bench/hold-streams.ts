// A child process of the bench: opens COUNT event streams to URL from
// LOCAL_ADDRESS, a few hundred at a time, and holds them. It tells its parent
// how many are established (their `caught-up` arrived) and how many failed.
// With RECONNECT=1 it behaves as EventSource does when the server drains: a
// stream that ends is opened again, after the server's `retry:`, with
// Last-Event-ID. On request it reports what its streams saw since the last
// report: heartbeats, events, gaps in the ids (a topic's ids are consecutive
// on the file backend), and how many streams are at a given id.
import net from 'node:net';

const [url, countText, localAddress] = process.argv.slice(2);
const reconnecting = process.env.RECONNECT === '1';
const target = new URL(url!);
const count = Number(countText);
let established = 0;
let failed = 0;
let closing = false;

/** One held stream: the socket of its current connection and what it saw. Kept small: 5,000 of these per process. */
interface Stream {
  socket: net.Socket | undefined;
  lastId: number | undefined;
  retryMs: number;
  heartbeats: number;
  events: number;
  gaps: number;
  connections: number;
  /** Its first connection got `caught-up`: from then on it is retried however a connection ends, as EventSource does. */
  established: boolean;
  /** Text of an unfinished line, between chunks. */
  rest: string;
}

const streams: Stream[] = [];

function connect(stream: Stream, onFirst?: (ok: boolean) => void): void {
  let caughtUp = false;
  let settled = false;
  let statusSeen = false;
  const settle = (ok: boolean) => {
    if (settled) return;
    settled = true;
    onFirst?.(ok);
  };
  const socket = net.connect({ host: target.hostname, port: Number(target.port), localAddress });
  stream.socket = socket;
  stream.rest = '';
  stream.connections++;
  socket.setNoDelay(true);
  socket.on('connect', () => {
    const resume = stream.lastId === undefined ? '' : `Last-Event-ID: ${stream.lastId}\r\n`;
    socket.write(`GET ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nAccept: text/event-stream\r\n${resume}\r\n`);
  });
  socket.on('data', (chunk) => {
    const text = chunk.toString();
    if (!statusSeen) {
      statusSeen = true;
      // Anything but 200 (a 503 from a stream cap during a reconnect storm): like EventSource, drop it and come back later.
      if (!text.startsWith('HTTP/1.1 200')) return void socket.destroy();
    }
    const lines = (stream.rest + text).split('\n');
    stream.rest = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('id: ')) {
        const id = Number(line.slice(4));
        // A resumed stream goes on at the next id: anything else is an event missed or sent twice.
        if (stream.lastId !== undefined && id !== stream.lastId + 1) stream.gaps++;
        stream.lastId = id;
      } else if (line.startsWith('data: {"at"')) stream.events++;
      else if (line === ': heartbeat') stream.heartbeats++;
      else if (line.startsWith('retry: ')) stream.retryMs = Number(line.slice(7)) || stream.retryMs;
      else if (line === 'event: caught-up') {
        caughtUp = true;
        stream.established = true;
        settle(true);
      }
    }
  });
  const ended = () => {
    settle(false);
    if (stream.socket !== socket) return;
    stream.socket = undefined;
    // Like EventSource: once a stream worked, any end (a drain, a refused or cut reconnect) brings it back after `retry:`, from the last id.
    if (reconnecting && !closing && stream.established) setTimeout(() => connect(stream), stream.retryMs);
  };
  socket.on('error', ended);
  socket.on('close', ended);
  // A connection that never gets its `caught-up` is given up (and, once established, tried again).
  socket.setTimeout(30_000, () => {
    if (caughtUp) return;
    socket.destroy();
  });
}

function open(): Promise<void> {
  return new Promise((resolve) => {
    const stream: Stream = { socket: undefined, lastId: undefined, retryMs: 1000, heartbeats: 0, events: 0, gaps: 0, connections: 0, established: false, rest: '' };
    streams.push(stream);
    connect(stream, (ok) => {
      if (ok) established++;
      else failed++;
      resolve();
    });
  });
}

export interface HoldReport {
  established: number;
  failed: number;
  done?: boolean;
  /** Streams with a connection open now. */
  open?: number;
  /** Since the last report: streams that got at least one heartbeat, events received, gaps seen. */
  withHeartbeat?: number;
  events?: number;
  gaps?: number;
  /** Streams that connected more than once (reconnected after a drain). */
  reconnected?: number;
  /** Streams whose last id is `at` (when asked). */
  atId?: number;
}

for (let opened = 0; opened < count; ) {
  const batch = Math.min(250, count - opened);
  await Promise.all(Array.from({ length: batch }, open));
  opened += batch;
  process.send?.({ established, failed } satisfies HoldReport);
}
for (const stream of streams) stream.socket?.setTimeout(0);
process.send?.({ established, failed, done: true } satisfies HoldReport);
process.on('message', (message: 'close' | { report: true; at?: number }) => {
  if (message === 'close') {
    closing = true;
    for (const stream of streams) stream.socket?.destroy();
    process.exit(0);
  }
  const report: HoldReport = { established, failed, open: 0, withHeartbeat: 0, events: 0, gaps: 0, reconnected: 0, atId: 0 };
  for (const stream of streams) {
    if (stream.socket && !stream.socket.destroyed) report.open!++;
    if (stream.heartbeats > 0) report.withHeartbeat!++;
    report.events! += stream.events;
    report.gaps! += stream.gaps;
    if (stream.connections > 1) report.reconnected!++;
    if (message.at !== undefined && stream.lastId === message.at) report.atId!++;
    stream.heartbeats = 0;
    stream.events = 0;
    stream.gaps = 0;
  }
  process.send?.(report);
});
