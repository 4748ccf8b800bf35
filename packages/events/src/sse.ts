import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LongLivedResponses } from '@kit/server';
import type { EventLog, StoredEvent } from './types.js';

export interface EventStreamOptions {
  log: EventLog;
  topic: string;
  /** Resume after this id (Last-Event-ID, or ?lastEventId= on a browser's first connection); undefined: from now on. */
  after: string | undefined;
  heartbeatMs: number;
  retryMs: number;
  /** Which worker serves the stream (sent as `x-worker`). */
  worker: string;
  /** The server's long-lived responses: a draining server ends the stream with a reconnect hint. */
  streams: LongLivedResponses;
  /** The SSE event name for an event (none: a plain `message`). */
  eventName?: (event: StoredEvent) => string | undefined;
  /** Ends the stream once this event is sent (a task's `done`). */
  isLast?: (event: StoredEvent) => boolean;
}

/** A client that cannot keep up is dropped past this much unsent data; it reconnects and resumes from its last id. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/** Each event is serialised once, however many streams of this worker send it. */
const payloads = new WeakMap<StoredEvent, string>();

function payloadOf(event: StoredEvent): string {
  let text = payloads.get(event);
  if (text === undefined) {
    text = JSON.stringify({ at: event.at, data: event.data });
    payloads.set(event, text);
  }
  return text;
}

/**
 * Serves one topic as Server-Sent Events: `retry:` at once, `id:` on every
 * event, the backlog after `after` then live events, a heartbeat comment,
 * `event: reset` when the asked-for id is gone, and on shutdown a short
 * jittered `retry:` so clients reconnect, spread out, to other workers.
 * Nothing (subscription, timer) outlives the response.
 */
export async function streamEvents(req: IncomingMessage, res: ServerResponse, options: EventStreamOptions): Promise<void> {
  const { log, topic } = options;
  // Fixed before the headers go out, so the first id the client hears is the right one.
  const after = options.after ?? (await log.latestId(topic));
  // The client may have gone while we (or the route) looked things up: then nothing may be set up for it.
  if (res.destroyed || req.socket.destroyed) return;
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    'X-Accel-Buffering': 'no',
    'x-worker': options.worker,
  });
  // An id with no data sets the client's last event id without an event: a reconnect resumes from here.
  res.write(`retry: ${options.retryMs}\n${options.after === undefined ? `id: ${after}\n` : ''}: worker ${options.worker}\n\n`);

  let open = true;
  const send = (text: string) => {
    if (!open) return;
    res.write(text);
    if (res.writableLength > MAX_BUFFERED_BYTES) drop();
  };
  // A client this far behind is cut off at once: end() would hold its buffer until it read it all. It resumes from its Last-Event-ID.
  const drop = () => {
    open = false;
    cleanup();
    res.destroy();
  };
  const finish = (farewell: string) => {
    if (!open) return;
    open = false;
    cleanup();
    res.end(farewell);
  };

  const subscription = log.subscribe(topic, {
    after,
    onEvent: (event) => {
      const name = options.eventName?.(event);
      send(`id: ${event.id}\n${name ? `event: ${name}\n` : ''}data: ${payloadOf(event)}\n\n`);
      if (options.isLast?.(event)) finish('');
    },
    onReset: (info) => send(`event: reset\ndata: ${JSON.stringify(info)}\n\n`),
    onCaughtUp: (replayed) => send(`event: caught-up\ndata: ${JSON.stringify({ replayed, worker: options.worker })}\n\n`),
    onError: () => finish(''),
  });
  const heartbeat = setInterval(() => send(': heartbeat\n\n'), options.heartbeatMs);
  const cleanup = () => {
    clearInterval(heartbeat);
    subscription.close();
  };
  res.once('close', () => {
    open = false;
    cleanup();
  });
  req.once('error', () => finish(''));
  options.streams.add(res, () => {
    const retry = Math.round(250 + Math.random() * 1000);
    finish(`retry: ${retry}\nevent: shutdown\ndata: ${JSON.stringify({ worker: options.worker })}\n\n`);
  });
}
