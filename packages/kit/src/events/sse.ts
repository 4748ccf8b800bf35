import type { ServerResponse } from 'node:http';
import type { KitContext } from '../runtime/context.js';
import { eventDelivered } from '../metrics/delivery.js';
import { currentResponseFlow } from '../runtime/response-flow.js';
import { safeEventName } from './event-name.js';
import { onHeartbeat } from './heartbeat.js';
import type { StoredEvent, Subscription } from './types.js';

export interface EventStreamOptions {
  /** Resume after this id; default: Last-Event-ID or ?lastEventId= of the request, else from now on. */
  after?: string | undefined;
  /** The SSE event name for an event (none: a plain `message`); a name that is not 1 to 64 of A-Z, a-z, 0-9, `_`, `.` and `-` is dropped. */
  eventName?: (event: StoredEvent) => string | undefined;
  /** Ends the stream once this event is sent (a task's `done`). */
  isLast?: (event: StoredEvent) => boolean;
  /** More response headers. */
  headers?: Record<string, string>;
}

const encoder = new TextEncoder();

/** Each event's frame is made once, however many streams of this worker send it (streams with event names make their own). */
const frames = new WeakMap<StoredEvent, string>();

function frameOf(event: StoredEvent, name: string | undefined): string {
  if (name) return `id: ${event.id}\nevent: ${name}\ndata: ${JSON.stringify({ at: event.at, data: event.data })}\n\n`;
  let text = frames.get(event);
  if (text === undefined) {
    text = `id: ${event.id}\ndata: ${JSON.stringify({ at: event.at, data: event.data })}\n\n`;
    frames.set(event, text);
  }
  return text;
}

/** How much of the queue one write (or one pull) hands over: a backlog goes out in pieces this size, each once the response drained. */
const CHUNK_CHARS = 64 * 1024;

/**
 * Past this much queued for one stream, its subscription is closed and read
 * again from the log after the last queued id once the queue is sent: a
 * client catching up on a large backlog, or reading slowly, costs this much
 * memory at most, and misses nothing.
 */
const QUEUE_CHARS = 1024 * 1024;

interface Item {
  text: string;
  /** The id of the event it carries: where to read on from. */
  id?: string | undefined;
  /** The stream ends once this one is sent (a task's `done`). */
  last?: boolean;
}

/**
 * Serves one topic as Server-Sent Events, as a web Response an Astro
 * endpoint returns: `retry:` at once, `id:` on every event, the backlog after
 * the asked id then live events, a heartbeat comment, `event: reset` when
 * the asked-for id is gone, and when the worker drains a short jittered
 * `retry:` so clients reconnect, spread out, to other workers. Nothing
 * (subscription, timer) outlives the response: the adapter cancels the body
 * and aborts request.signal when the client leaves.
 *
 * Under the kit's worker the events do not go through the web body at all:
 * once the adapter has written the head, they are written to the node
 * response directly (the body stays empty, and closes when the stream
 * ends). A fan-out to 20,000 streams then costs one write each, as in a bare
 * Node server, instead of a pull, a promise and a copy each. Elsewhere
 * (`astro dev`) the body is pulled. Either way events wait in a bounded
 * queue and go out only as the client's socket drains, so a reconnect with
 * megabytes of backlog is paced by the client instead of written in one go.
 */
export function eventStream(context: KitContext, request: Request, topic: string, options: EventStreamOptions = {}): Response {
  const { log, settings, streams, worker } = context;
  const asked = options.after ?? lastEventId(request);
  // Only the signal is kept: no closure below holds the Request (with its headers and URL) for the stream's life.
  const signal = request.signal;
  const flow = currentResponseFlow();
  /** Set once the adapter wrote the head: from then on events are written here. */
  let direct: ServerResponse | undefined;
  const queue: Item[] = [];
  let queued = 0;
  let open = true;
  /** No more events are taken: the last one is queued. */
  let ending = false;
  /** The subscription was closed because the queue was full: read on from `lastId` once it is sent. */
  let paused = false;
  let lastId: string | undefined;
  let caughtUp = false;
  let replayed = 0;
  let generation = 0;
  let subscription: Subscription | undefined;
  let stopHeartbeat: (() => void) | undefined;
  let forget = () => undefined as void;
  let wake: (() => void) | undefined;
  let waitingForDrain = false;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  /** The web body is closed (direct mode closes it at once; see below). */
  let bodyClosed = false;
  /** Direct mode: the node response's own end(), which the adapter's call does not reach. */
  let endResponse: (() => void) | undefined;

  const notify = () => {
    if (direct) return flush();
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const enqueue = (item: Item) => {
    if (!open) return;
    if (item.id !== undefined) lastId = item.id;
    // The common case, a live event to a client that keeps up: one write, nothing queued.
    if (direct && queue.length === 0 && !direct.writableNeedDrain && !item.last) {
      direct.write(item.text);
      if (direct.writableNeedDrain) waitForDrain();
      return;
    }
    queue.push(item);
    queued += item.text.length;
    notify();
  };
  /** Takes up to CHUNK_CHARS off the queue (one item at least). */
  const take = (): { text: string; last: boolean } => {
    let text = '';
    let last = false;
    while (queue.length > 0 && (text === '' || text.length + queue[0]!.text.length <= CHUNK_CHARS)) {
      const item = queue.shift()!;
      queued -= item.text.length;
      text += item.text;
      last ||= item.last === true;
    }
    return { text, last };
  };
  /** Direct mode: writes the queue while the response takes it, then reads on if the queue had been full. */
  const flush = () => {
    const res = direct;
    if (!res || waitingForDrain) return;
    while (open && queue.length > 0 && !res.writableNeedDrain) {
      const { text, last } = take();
      res.write(text);
      if (last) return finish('');
    }
    if (!open) return;
    if (res.writableNeedDrain) return waitForDrain();
    if (ending) return finish('');
    if (paused && lastId !== undefined) {
      paused = false;
      follow(lastId);
    }
  };
  const waitForDrain = () => {
    const res = direct;
    if (!res || waitingForDrain || !open) return;
    waitingForDrain = true;
    res.once('drain', () => {
      waitingForDrain = false;
      flush();
    });
  };
  const cleanup = () => {
    open = false;
    stopHeartbeat?.();
    subscription?.close();
    forget();
    signal.removeEventListener('abort', cleanup);
    queue.length = 0;
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const finish = (farewell: string) => {
    if (!open) return;
    // Whatever is still queued is dropped: the client has not got it, so it asks for it again with its Last-Event-ID.
    if (farewell) {
      if (direct) direct.write(farewell);
      else controller.enqueue(encoder.encode(farewell));
    }
    cleanup();
    if (endResponse) return endResponse();
    // The adapter ends the node response once the body closes.
    closeBody();
  };
  const closeBody = () => {
    if (bodyClosed) return;
    bodyClosed = true;
    controller.close();
  };
  const follow = (after: string) => {
    const mine = ++generation;
    const current = () => mine === generation && open && !paused && !ending;
    subscription = log.subscribe(topic, {
      after,
      onEvent: (event) => {
        if (!current()) return;
        const last = options.isLast?.(event) ?? false;
        enqueue({ text: frameOf(event, safeEventName(options.eventName?.(event))), id: event.id, last });
        if (!caughtUp) replayed++;
        else eventDelivered(event); // Live events only: a replayed backlog's age is no delivery latency.
        if (last) {
          ending = true;
          subscription?.close();
        } else if (queued > QUEUE_CHARS) {
          paused = true;
          subscription?.close();
        }
      },
      onReset: (info) => {
        if (current()) enqueue({ text: `event: reset\ndata: ${JSON.stringify(info)}\n\n` });
      },
      onCaughtUp: () => {
        if (!current() || caughtUp) return;
        caughtUp = true;
        enqueue({ text: `event: caught-up\ndata: ${JSON.stringify({ replayed, worker })}\n\n` });
      },
      onError: () => {
        if (mine === generation) finish('');
      },
    });
  };

  /** Under the kit's worker: resolves once the head is written (direct tells whether it was ours). Nothing goes through the body before. */
  let headWritten: Promise<void> | undefined;
  const marker = flow ? `${process.pid}-${++streamCount}` : undefined;
  if (flow && marker) {
    // The adapter writes the head when it gets this Response. If it is ours (the marker is there: middleware did not
    // answer something else), events go straight to the node response from then on.
    const res = flow.response;
    const writeHead = res.writeHead;
    headWritten = new Promise<void>((resolve) => {
      res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
        res.writeHead = writeHead;
        const ours = takeMarker(args, marker);
        const result = (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
        if (ours && open) {
          direct = res;
          // The adapter is done with us: the body closes now, so its request, response and render state are freed, and
          // its end() of the node response is held back until the stream itself ends. A stream then costs what its
          // socket and subscription cost, close to a bare server's.
          const end = res.end;
          res.end = function (this: ServerResponse, ...endArgs: unknown[]) {
            if (open) return this;
            return (end as (...a: unknown[]) => ServerResponse).apply(this, endArgs);
          } as typeof res.end;
          endResponse = () => {
            res.end = end;
            res.end();
          };
          res.once('close', cleanup);
          closeBody();
          flush();
        }
        resolve();
        return result;
      } as typeof res.writeHead;
    });
  }

  const body = new ReadableStream<Uint8Array>(
    {
      start(given) {
        controller = given;
        signal.addEventListener('abort', cleanup, { once: true });
        forget = streams.register(
          () => finish(`retry: ${Math.round(250 + Math.random() * 1000)}\nevent: shutdown\ndata: ${JSON.stringify({ worker })}\n\n`),
          () => {
            if (!open) return;
            cleanup();
            if (direct) direct.destroy();
            else if (!bodyClosed) controller.error(new Error('the stream was ended by the worker'));
          },
        );
        if (!open) return;
        void (async () => {
          // Fixed before anything is sent, so the first id the client hears is the right one.
          const after = asked ?? (await log.latestId(topic));
          // The client may have gone (or the worker begun to drain) while we looked: then nothing may be set up for it.
          if (!open) return;
          // An id with no data sets the client's last event id without an event: a reconnect resumes from here.
          enqueue({ text: `retry: ${settings.sseRetryMs}\n${asked === undefined ? `id: ${after}\n` : ''}: worker ${worker}\n\n` });
          follow(after);
          // One timer for all the worker's streams, not one each.
          stopHeartbeat = onHeartbeat(settings.sseHeartbeatMs, () => {
            if (queue.length === 0) enqueue({ text: ': heartbeat\n\n' });
          });
        })().catch(() => finish(''));
      },
      async pull() {
        // Under the kit's worker the body carries nothing: the events are written directly once the head is.
        if (headWritten) await headWritten;
        if (direct) return;
        while (open && queue.length === 0) {
          if (ending) return finish('');
          if (paused && lastId !== undefined) {
            paused = false;
            follow(lastId);
          }
          await new Promise<void>((resolve) => (wake = resolve));
        }
        // Under the kit's worker (and a head that was not ours): nothing more until the client took what the response holds.
        if (flow) await flow.ready();
        if (!open || queue.length === 0) return;
        const { text, last } = take();
        controller.enqueue(encoder.encode(text));
        if (last) finish('');
      },
      cancel() {
        cleanup();
      },
    },
    // The reader's side holds one chunk at most; the rest waits in the queue, where it can be dropped and read again.
    new ByteLengthQueuingStrategy({ highWaterMark: 1 }),
  );
  return new Response(body, {
    status: 200,
    headers: {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
      'x-worker': worker,
      ...options.headers,
      ...(marker ? { [MARKER]: marker } : {}),
    },
  });
}

/** A header that marks the head of an event stream's own Response; removed before it is sent. */
const MARKER = 'x-kit-event-stream';
let streamCount = 0;

/** Whether writeHead's headers (an object, or a flat [name, value, …] list) carry `marker`; takes it out either way. */
function takeMarker(args: unknown[], marker: string): boolean {
  let found = false;
  for (const [index, arg] of args.entries()) {
    if (Array.isArray(arg)) {
      const kept: unknown[] = [];
      for (let i = 0; i + 1 < arg.length; i += 2) {
        if (String(arg[i]).toLowerCase() === MARKER) found ||= String(arg[i + 1]) === marker;
        else kept.push(arg[i], arg[i + 1]);
      }
      args[index] = kept;
    } else if (arg && typeof arg === 'object') {
      const headers = arg as Record<string, unknown>;
      for (const key of Object.keys(headers)) {
        if (key.toLowerCase() !== MARKER) continue;
        found ||= String(headers[key]) === marker;
        delete headers[key];
      }
    }
  }
  return found;
}

/** The id to resume after: the Last-Event-ID header (reconnects), or ?lastEventId= (a browser's first connection). */
export function lastEventId(request: Request): string | undefined {
  const header = request.headers.get('last-event-id');
  if (header !== null && header.trim() !== '') return header.trim().slice(0, 64);
  const query = new URL(request.url, 'http://localhost').searchParams.get('lastEventId');
  return query && query.trim() !== '' ? query.trim().slice(0, 64) : undefined;
}
