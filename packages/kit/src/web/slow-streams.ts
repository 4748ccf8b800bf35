import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Handler } from '../server/index.js';

/** A client that cannot keep up is dropped past this much unsent data; it reconnects and resumes from its last id. */
export const MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * Cuts off an event stream (any text/event-stream response, whoever
 * produced it) whose client has fallen more than MAX_BUFFERED_BYTES behind.
 * Ending it politely would hold that buffer until the client read it all;
 * destroyed, it reconnects and resumes from its Last-Event-ID. `onStream`
 * hears of every event stream as its head is written.
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
    return handler(req, res);
  };
}

function watch(res: ServerResponse): void {
  const write = res.write;
  res.write = function (this: ServerResponse, ...args: unknown[]) {
    const result = (write as (...a: unknown[]) => boolean).apply(this, args);
    if (this.writableLength > MAX_BUFFERED_BYTES) this.destroy();
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
