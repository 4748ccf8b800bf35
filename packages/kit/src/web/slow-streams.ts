import type { IncomingMessage, ServerResponse } from 'node:http';
import { withResponseFlow } from '../runtime/response-flow.js';
import type { Handler } from '../server/index.js';
import { STALL_MS } from '../server/stalled-drain.js';

export { STALL_MS };

/** Past this much unsent data a stream is cut at once, reading or not: a bound on what one connection may hold in memory. */
export const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * Cuts off an event stream (any text/event-stream response, whoever
 * produced it) whose client stopped reading: data waits (write() said
 * false) and none of it left for STALL_MS. A client that reads, however
 * slowly, is never cut for being behind: the kit's own streams wait for the
 * response to drain (each request runs with its response's flow) and so
 * never pile up more than a chunk. Destroyed rather than ended politely
 * (which would hold the buffer until the client read it), the client
 * reconnects and resumes from its Last-Event-ID. `onStream` hears of every
 * event stream as its head is written (the stream caps count it).
 */
export function cutSlowStreams(handler: Handler, onStream?: (req: IncomingMessage, res: ServerResponse) => void): Handler {
  return (req, res) => {
    const writeHead = res.writeHead;
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      const result = (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
      if (isEventStream(this, args)) {
        watch(this);
        // The stream caps count it from here (server/limits.ts), until it closes.
        onStream?.(req, this);
      }
      return result;
    } as typeof res.writeHead;
    return withResponseFlow(res, () => handler(req, res));
  };
}

function watch(res: ServerResponse): void {
  let timer: NodeJS.Timeout | undefined;
  // Bytes given to write(), less those still waiting: what has left for the client. It grows while the client reads.
  let written = 0;
  let flushed = 0;
  let since = 0;
  const flushedNow = () => written - res.writableLength;
  const stop = () => {
    clearInterval(timer);
    timer = undefined;
  };
  // Only while the response needs to drain: a stream that keeps up costs no timer.
  const check = () => {
    const now = flushedNow();
    if (now > flushed) {
      flushed = now;
      since = Date.now(); // some of it left: the client reads
    } else if (Date.now() - since >= STALL_MS) {
      stop();
      res.destroy();
    }
  };
  res.on('drain', stop);
  res.on('close', stop);
  const write = res.write;
  res.write = function (this: ServerResponse, ...args: unknown[]) {
    const [chunk, encoding] = args;
    written += typeof chunk === 'string' ? Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : ((chunk as Uint8Array | undefined)?.byteLength ?? 0);
    const result = (write as (...a: unknown[]) => boolean).apply(this, args);
    if (this.writableLength > MAX_BUFFERED_BYTES) {
      stop();
      this.destroy();
    } else if (!result && !timer && !this.destroyed) {
      flushed = flushedNow();
      since = Date.now();
      timer = setInterval(check, 1000);
      timer.unref();
    }
    return result;
  } as typeof res.write;
}

/** The content type set on the response, or passed to writeHead as an object or a flat [name, value, …] list. */
function isEventStream(res: ServerResponse, args: unknown[]): boolean {
  let type = res.getHeader('content-type');
  for (const arg of args) {
    if (Array.isArray(arg)) {
      for (let i = 0; i + 1 < arg.length; i += 2) if (String(arg[i]).toLowerCase() === 'content-type') type = String(arg[i + 1]);
    } else if (arg && typeof arg === 'object') {
      for (const [key, value] of Object.entries(arg)) if (key.toLowerCase() === 'content-type') type = String(value);
    }
  }
  return String(type ?? '').startsWith('text/event-stream');
}
