import type { ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { UnderlyingSource } from 'node:stream/web';
import type { KitContext } from '../runtime/context.js';
import { eventDelivered } from '../metrics/delivery.js';
import { currentResponseFlow, type ResponseFlow } from '../runtime/response-flow.js';
import { detach, endDetached, prepareDetach } from '../server/detach.js';
import type { LongLived } from '../server/long-lived.js';
import { whenDrained } from '../server/stalled-drain.js';
import { safeEventName } from './event-name.js';
import { joinHeartbeat, leaveHeartbeat, type Beating } from './heartbeat.js';
import type { StoredEvent, SubscribeOptions, Subscription } from './types.js';

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

/** The options of a stream given none: one object for them all. */
const NO_OPTIONS: EventStreamOptions = Object.freeze({});

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
 * and aborts request.signal when the client leaves (or, once the events go
 * to the node response directly, the response's close says so).
 *
 * Under the kit's worker the events do not go through the web body at all:
 * once the adapter has written the head, they are written to the node
 * response directly (the body stays empty, and closes when the stream
 * ends). A fan-out to 20,000 streams then costs one write each, as in a bare
 * Node server, instead of a pull, a promise and a copy each. Once the
 * adapter is done with the response, the stream's socket is taken out of
 * Node's HTTP server (server/detach.ts) and written directly: an idle
 * stream keeps its socket and subscription, not a request, a response and
 * a parser. Elsewhere
 * (`astro dev`) the body is pulled. Either way events wait in a bounded
 * queue and go out only as the client's socket drains, so a reconnect with
 * megabytes of backlog is paced by the client instead of written in one go.
 */
export function eventStream(context: KitContext, request: Request, topic: string, options: EventStreamOptions = NO_OPTIONS): Response {
  const flow = currentResponseFlow();
  // Only the signal is kept: nothing below holds the Request (with its headers and URL) for the stream's life.
  const stream = new TopicStream(context, topic, options, options.after ?? lastEventId(request), request.signal, flow);
  const marker = flow ? `${process.pid}-${++streamCount}` : undefined;
  // The adapter writes the head when it gets this Response. If it is ours (the marker is there: middleware did not
  // answer something else), events go straight to the node response from then on.
  if (flow && marker) stream.watchHead(flow.response, marker);
  // The stream is its own underlying source (start, pull, cancel).
  const body = new ReadableStream<Uint8Array>(
    stream,
    // The reader's side holds one chunk at most; the rest waits in the queue, where it can be dropped and read again.
    new ByteLengthQueuingStrategy({ highWaterMark: 1 }),
  );
  return new Response(body, {
    status: 200,
    headers: {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
      'x-worker': context.worker,
      ...options.headers,
      ...(marker ? { [MARKER]: marker } : {}),
    },
  });
}

/**
 * One stream's state. Held for the stream's whole life by 20,000 or more
 * streams per worker, so it is one object whose behaviour lives on the
 * prototype: a closure per step would cost each stream some 27 function
 * objects and their context. It is its own member of the heartbeat and of
 * the drain (beat, endStream, destroyStream); the one function left is its
 * close listener.
 */
class TopicStream implements UnderlyingSource<Uint8Array>, Beating, LongLived {
  /** Set once the adapter wrote the head: from then on events are written here; the socket itself once detached. */
  direct: ServerResponse | Socket | undefined;
  /** The head asked for a body the socket can carry alone (server/detach.ts): detach once the adapter is done. */
  detachable = false;
  queue: Item[] = [];
  queued = 0;
  open = true;
  /** No more events are taken: the last one is queued. */
  ending = false;
  /** The subscription was closed because the queue was full: read on from `lastId` once it is sent. */
  paused = false;
  lastId: string | undefined;
  caughtUp = false;
  replayed = 0;
  generation = 0;
  subscription: Subscription | undefined;
  wake: (() => void) | undefined;
  /** Set while the stream waits for its sink to drain: stops waiting. */
  stopWaiting: (() => void) | undefined;
  controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  /** The web body is closed (direct mode closes it at once; see watchHead). */
  bodyClosed = false;
  /** Direct mode: the node response's own end(), which the adapter's call does not reach. */
  end: ServerResponse['end'] | undefined;
  /** Under the kit's worker: resolves once the head is written. Nothing goes through the body before. */
  headWritten: Promise<void> | undefined;
  /** The client left, or the body was cancelled: a listener, so one function for both. */
  readonly onClose = () => this.cleanup();

  constructor(
    readonly context: KitContext,
    readonly topic: string,
    readonly options: EventStreamOptions,
    readonly asked: string | undefined,
    /** The request's abort signal: how a stream the adapter pulls hears that the client left (dropped once it is direct). */
    public signal: AbortSignal | undefined,
    /** Dropped once detached: it holds the response. */
    public flow: ResponseFlow | undefined,
  ) {}

  /** Takes over the node response once the adapter writes a head that carries `marker`. */
  watchHead(res: ServerResponse, marker: string): void {
    const stream = this;
    const writeHead = res.writeHead;
    this.headWritten = new Promise<void>((resolve) => {
      res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
        res.writeHead = writeHead;
        const ours = takeMarker(args, marker);
        if (ours && stream.open) stream.detachable = prepareDetach(res);
        const result = (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
        if (ours && stream.open) stream.goDirect(res);
        resolve();
        return result;
      } as typeof res.writeHead;
    });
  }

  /**
   * The adapter is done with us: the body closes now, so its request, response and render state are freed, and its
   * end() of the node response is held back until the stream itself ends. A stream then costs what its socket and
   * subscription cost, close to a bare server's.
   */
  goDirect(res: ServerResponse): void {
    const stream = this;
    this.direct = res;
    const end = res.end;
    this.end = end;
    // The response's close says the client left: the request's abort signal, which says the same, is not listened to.
    res.on('close', this.onClose);
    this.signal?.removeEventListener('abort', this.onClose);
    this.signal = undefined;
    // Whatever the adapter adds to the response from here on is its own (see releaseAdapter).
    const listening = { close: res.listenerCount('close'), finish: res.listenerCount('finish') };
    let handedOver = false;
    res.end = function (this: ServerResponse, ...endArgs: unknown[]) {
      if (stream.open) {
        if (!handedOver) {
          handedOver = true;
          releaseAdapter(this, listening);
          if (stream.detachable) stream.detach(this);
        }
        return this;
      }
      return (end as (...a: unknown[]) => ServerResponse).apply(this, endArgs);
    } as typeof res.end;
    this.closeBody();
    // The body is closed and nothing more goes through it: the stream does not keep it.
    this.controller = undefined;
    this.flush();
  }

  /**
   * Goes on on the response's bare socket: the response, its request and
   * whatever hangs on them are freed. Stays on the response when the socket
   * cannot be detached.
   */
  detach(res: ServerResponse): void {
    res.off('close', this.onClose);
    const socket = detach(res);
    if (!socket) return void res.on('close', this.onClose);
    socket.on('close', this.onClose);
    this.direct = socket;
    this.end = undefined;
    this.flow = undefined;
    this.headWritten = undefined;
    // A wait for the response to drain would never end: the socket's drain is what counts now.
    if (this.stopWaiting) {
      this.stopWaiting();
      this.stopWaiting = undefined;
      this.waitForDrain();
    }
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.controller = controller;
    this.signal?.addEventListener('abort', this.onClose, { once: true });
    // Once the worker drains, it is ended at once.
    this.context.streams.join(this);
    if (!this.open) return;
    this.begin().catch(() => this.finish(''));
  }

  /** The worker drains: a jittered `retry:` sends the client to another worker, spread out. */
  endStream(): void {
    this.finish(`retry: ${Math.round(250 + Math.random() * 1000)}\nevent: shutdown\ndata: ${JSON.stringify({ worker: this.context.worker })}\n\n`);
  }

  destroyStream(): void {
    if (!this.open) return;
    this.cleanup();
    if (this.direct) this.direct.destroy();
    else if (!this.bodyClosed) this.controller?.error(new Error('the stream was ended by the worker'));
  }

  /** A comment when nothing else is on its way: proxies and clients see the stream is alive. */
  beat(): void {
    if (this.queue.length === 0) this.enqueue({ text: ': heartbeat\n\n' });
  }

  async begin(): Promise<void> {
    const { log, settings } = this.context;
    // Fixed before anything is sent, so the first id the client hears is the right one.
    const after = this.asked ?? (await log.latestId(this.topic));
    // The client may have gone (or the worker begun to drain) while we looked: then nothing may be set up for it.
    if (!this.open) return;
    // An id with no data sets the client's last event id without an event: a reconnect resumes from here.
    this.enqueue({ text: `retry: ${settings.sseRetryMs}\n${this.asked === undefined ? `id: ${after}\n` : ''}: worker ${this.context.worker}\n\n` });
    this.follow(after);
    // One timer for all the worker's streams, not one each.
    joinHeartbeat(settings.sseHeartbeatMs, this);
  }

  async pull(): Promise<void> {
    // Under the kit's worker the body carries nothing: the events are written directly once the head is.
    if (this.headWritten) await this.headWritten;
    if (this.direct) return;
    while (this.open && this.queue.length === 0) {
      if (this.ending) return this.finish('');
      if (this.paused && this.lastId !== undefined) {
        this.paused = false;
        this.follow(this.lastId);
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    // Under the kit's worker (and a head that was not ours): nothing more until the client took what the response holds.
    if (this.flow) await this.flow.ready();
    if (!this.open || this.queue.length === 0) return;
    const { text, last } = this.take();
    this.controller!.enqueue(encoder.encode(text));
    if (last) this.finish('');
  }

  cancel(): void {
    this.cleanup();
  }

  notify(): void {
    if (this.direct) return this.flush();
    const resume = this.wake;
    this.wake = undefined;
    resume?.();
  }

  enqueue(item: Item): void {
    if (!this.open) return;
    if (item.id !== undefined) this.lastId = item.id;
    const direct = this.direct;
    // The common case, a live event to a client that keeps up: one write, nothing queued.
    if (direct && this.queue.length === 0 && !direct.writableNeedDrain && !item.last) {
      direct.write(item.text);
      if (direct.writableNeedDrain) this.waitForDrain();
      return;
    }
    this.queue.push(item);
    this.queued += item.text.length;
    this.notify();
  }

  /** Takes up to CHUNK_CHARS off the queue (one item at least). */
  take(): { text: string; last: boolean } {
    const queue = this.queue;
    let text = '';
    let last = false;
    while (queue.length > 0 && (text === '' || text.length + queue[0]!.text.length <= CHUNK_CHARS)) {
      const item = queue.shift()!;
      this.queued -= item.text.length;
      text += item.text;
      last ||= item.last === true;
    }
    return { text, last };
  }

  /** Direct mode: writes the queue while the response takes it, then reads on if the queue had been full. */
  flush(): void {
    const res = this.direct;
    if (!res || this.stopWaiting) return;
    while (this.open && this.queue.length > 0 && !res.writableNeedDrain) {
      const { text, last } = this.take();
      res.write(text);
      if (last) return this.finish('');
    }
    if (!this.open) return;
    if (res.writableNeedDrain) return this.waitForDrain();
    if (this.ending) return this.finish('');
    if (this.paused && this.lastId !== undefined) {
      this.paused = false;
      this.follow(this.lastId);
    }
  }

  waitForDrain(): void {
    const res = this.direct;
    if (!res || this.stopWaiting || !this.open) return;
    this.stopWaiting = whenDrained(res, () => {
      this.stopWaiting = undefined;
      this.flush();
    });
  }

  cleanup(): void {
    this.open = false;
    leaveHeartbeat(this.context.settings.sseHeartbeatMs, this);
    this.stopWaiting?.();
    this.stopWaiting = undefined;
    this.subscription?.close();
    this.context.streams.leave(this);
    this.signal?.removeEventListener('abort', this.onClose);
    this.queue.length = 0;
    const resume = this.wake;
    this.wake = undefined;
    resume?.();
  }

  finish(farewell: string): void {
    if (!this.open) return;
    // Whatever is still queued is dropped: the client has not got it, so it asks for it again with its Last-Event-ID.
    if (farewell) {
      if (this.direct) this.direct.write(farewell);
      else this.controller!.enqueue(encoder.encode(farewell));
    }
    this.cleanup();
    const res = this.direct;
    // Detached: the body ends with the connection.
    if (res instanceof Socket) return endDetached(res);
    if (res && this.end) {
      res.end = this.end;
      return void res.end();
    }
    // The adapter ends the node response once the body closes.
    this.closeBody();
  }

  closeBody(): void {
    if (this.bodyClosed) return;
    this.bodyClosed = true;
    this.controller?.close();
  }

  follow(after: string): void {
    this.subscription = this.context.log.subscribe(this.topic, new Follower(this, ++this.generation, after));
  }

  /** Whether a subscription's callbacks still count: the newest one, on a stream still taking events. */
  current(follower: Follower): boolean {
    return follower.generation === this.generation && this.open && !this.paused && !this.ending;
  }
}

/** One subscription of a stream (a new one after the queue was full): its callbacks as methods, not closures. */
class Follower implements SubscribeOptions {
  constructor(
    readonly stream: TopicStream,
    readonly generation: number,
    readonly after: string,
  ) {}

  onEvent(event: StoredEvent): void {
    const stream = this.stream;
    if (!stream.current(this)) return;
    const { isLast, eventName } = stream.options;
    const last = isLast?.(event) ?? false;
    stream.enqueue({ text: frameOf(event, safeEventName(eventName?.(event))), id: event.id, last });
    if (!stream.caughtUp) stream.replayed++;
    else eventDelivered(event); // Live events only: a replayed backlog's age is no delivery latency.
    if (last) {
      stream.ending = true;
      stream.subscription?.close();
    } else if (stream.queued > QUEUE_CHARS) {
      stream.paused = true;
      stream.subscription?.close();
    }
  }

  onReset(info: { requested: string; oldest: string | undefined }): void {
    if (this.stream.current(this)) this.stream.enqueue({ text: `event: reset\ndata: ${JSON.stringify(info)}\n\n` });
  }

  onCaughtUp(): void {
    const stream = this.stream;
    if (!stream.current(this) || stream.caughtUp) return;
    stream.caughtUp = true;
    stream.enqueue({ text: `event: caught-up\ndata: ${JSON.stringify({ replayed: stream.replayed, worker: stream.context.worker })}\n\n` });
  }

  onError(): void {
    if (this.generation === this.stream.generation) this.stream.finish('');
  }
}

/**
 * The adapter calls end() once the body is done (direct mode closes it at
 * once) and leaves listeners on the response for when it finishes or closes:
 * one cancels the body's reader (closed already), one stops the request's
 * abort signal from following the socket. Until the stream ends they would
 * hold the body, its reader, the request's abort controller and signals for
 * nothing: some 2 KB a stream. Run now, they do what they would do then, and
 * all that is freed. `listening`: how many listeners there were before the
 * adapter's; only those after are run.
 */
function releaseAdapter(res: ServerResponse, listening: { close: number; finish: number }): void {
  for (const event of ['finish', 'close'] as const) {
    for (const listener of res.listeners(event).slice(listening[event]) as ((this: ServerResponse) => void)[]) {
      res.off(event, listener);
      try {
        listener.call(res);
      } catch {
        // Its cleanup failing changes nothing for the stream.
      }
    }
  }
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
