import type { KitContext } from '../runtime/context.js';
import type { StoredEvent, Subscription } from './types.js';

export interface EventStreamOptions {
  /** Resume after this id; default: Last-Event-ID or ?lastEventId= of the request, else from now on. */
  after?: string | undefined;
  /** The SSE event name for an event (none: a plain `message`). */
  eventName?: (event: StoredEvent) => string | undefined;
  /** Ends the stream once this event is sent (a task's `done`). */
  isLast?: (event: StoredEvent) => boolean;
  /** More response headers. */
  headers?: Record<string, string>;
}

const encoder = new TextEncoder();

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
 * Serves one topic as Server-Sent Events, as a web Response an Astro
 * endpoint returns: `retry:` at once, `id:` on every event, the backlog after
 * the asked id then live events, a heartbeat comment, `event: reset` when
 * the asked-for id is gone, and when the worker drains a short jittered
 * `retry:` so clients reconnect, spread out, to other workers. Nothing
 * (subscription, timer) outlives the response: the adapter cancels the body
 * and aborts request.signal when the client leaves.
 */
export function eventStream(context: KitContext, request: Request, topic: string, options: EventStreamOptions = {}): Response {
  const { log, settings, streams, worker } = context;
  const asked = options.after ?? lastEventId(request);
  let stop = () => undefined as void;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      let open = true;
      let subscription: Subscription | undefined;
      let heartbeat: NodeJS.Timeout | undefined;
      let forget = () => undefined as void;
      const send = (text: string) => {
        if (open) controller.enqueue(encoder.encode(text));
      };
      const cleanup = () => {
        open = false;
        clearInterval(heartbeat);
        subscription?.close();
        forget();
        request.signal.removeEventListener('abort', cleanup);
      };
      const finish = (farewell: string) => {
        if (!open) return;
        if (farewell) send(farewell);
        cleanup();
        controller.close();
      };
      stop = cleanup;
      request.signal.addEventListener('abort', cleanup, { once: true });
      forget = streams.register(
        () => finish(`retry: ${Math.round(250 + Math.random() * 1000)}\nevent: shutdown\ndata: ${JSON.stringify({ worker })}\n\n`),
        () => {
          cleanup();
          controller.error(new Error('the stream was ended by the worker'));
        },
      );
      if (!open) return;
      void (async () => {
        // Fixed before anything is sent, so the first id the client hears is the right one.
        const after = asked ?? (await log.latestId(topic));
        // The client may have gone (or the worker begun to drain) while we looked: then nothing may be set up for it.
        if (!open) return;
        // An id with no data sets the client's last event id without an event: a reconnect resumes from here.
        send(`retry: ${settings.sseRetryMs}\n${asked === undefined ? `id: ${after}\n` : ''}: worker ${worker}\n\n`);
        subscription = log.subscribe(topic, {
          after,
          onEvent: (event) => {
            const name = options.eventName?.(event);
            send(`id: ${event.id}\n${name ? `event: ${name}\n` : ''}data: ${payloadOf(event)}\n\n`);
            if (options.isLast?.(event)) finish('');
          },
          onReset: (info) => send(`event: reset\ndata: ${JSON.stringify(info)}\n\n`),
          onCaughtUp: (replayed) => send(`event: caught-up\ndata: ${JSON.stringify({ replayed, worker })}\n\n`),
          onError: () => finish(''),
        });
        heartbeat = setInterval(() => send(': heartbeat\n\n'), settings.sseHeartbeatMs);
      })().catch(() => finish(''));
    },
    cancel() {
      stop();
    },
  });
  return new Response(body, {
    status: 200,
    headers: {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
      'x-worker': worker,
      ...options.headers,
    },
  });
}

/** The id to resume after: the Last-Event-ID header (reconnects), or ?lastEventId= (a browser's first connection). */
export function lastEventId(request: Request): string | undefined {
  const header = request.headers.get('last-event-id');
  if (header !== null && header.trim() !== '') return header.trim().slice(0, 64);
  const query = new URL(request.url, 'http://localhost').searchParams.get('lastEventId');
  return query && query.trim() !== '' ? query.trim().slice(0, 64) : undefined;
}
