import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';

/**
 * Takes an event stream's socket out of Node's HTTP server once its head is
 * out, as Node itself does for an `upgrade`: the socket stays, and the
 * request, the response, the HTTP parser, the written head and the
 * server's listeners (some 5 KiB of heap an idle stream, more than the
 * stream's own state) are freed. An idle stream then costs its socket and
 * its subscription, close to what a raw TCP server's connection costs.
 *
 * The body is delimited by the connection's close (`Connection: close`, no
 * chunked encoding: HTTP/1.1 allows it, EventSource and proxies read it), so
 * the socket can be written and ended directly with nothing to frame, and no
 * client reuses it for another request.
 *
 * It leans on how Node's HTTP server hangs itself on a socket: the parser on
 * `socket.parser`, listeners known by name (the same in Node 20, 22 and 24)
 * and `freeParser` from `_http_common`, the one Node's own upgrade path
 * calls. Where any of that is not found, a response is not detached and its
 * stream is written through the response as before.
 */

/** What Node's HTTP server listens to on a connection's socket, by listener name. */
const HTTP_LISTENERS: Readonly<Record<string, readonly string[]>> = {
  data: ['bound socketOnData'],
  end: ['bound socketOnEnd'],
  close: ['bound socketOnClose'],
  drain: ['bound socketOnDrain'],
  error: ['socketOnError'],
  timeout: ['socketOnTimeout'],
  resume: ['onSocketResume'],
  pause: ['onSocketPause'],
};

/** Node's HTTP parser, as far as it matters here: whether the socket has one. */
type HttpParser = object;

type ParsedSocket = Socket & { parser?: HttpParser | null };

type FreeParser = (parser: HttpParser, req: unknown, socket: Socket) => void;

const freeParser = loadFreeParser();

/** How long an ended stream's client has to close the connection. */
const ENDED_GRACE_MS = 5000;

/**
 * Responses handed over, with the socket that goes on as their stream (see
 * detachedSocket). On globalThis: the site's bundle may hold its own copy of
 * the kit's modules (see runtime/context.ts), and the worker's server must
 * see what the site's streams detached.
 */
const registry = Symbol.for('astro-cluster-kit.detached-responses');
const handedOver: WeakMap<ServerResponse, Socket> = ((globalThis as { [registry]?: WeakMap<ServerResponse, Socket> })[registry] ??= new WeakMap());

/**
 * Whether `res` can be detached once its head is out; when it can, asks
 * for a close-delimited body. Call before the head is written.
 */
export function prepareDetach(res: ServerResponse): boolean {
  const socket = res.socket as ParsedSocket | null;
  if (!freeParser || res.headersSent || !socket || socket.destroyed || !socket.parser) return false;
  if (!Object.entries(HTTP_LISTENERS).every(([event, names]) => names.every((name) => socket.listeners(event).some((listener) => listener.name === name)))) return false;
  res.setHeader('Connection', 'close');
  res.useChunkedEncodingByDefault = false;
  return true;
}

/**
 * Sends the head (if not yet sent), takes the socket away from the HTTP
 * server and returns it; undefined when it cannot (not prepared, or the
 * body is chunked after all). The response then emits `close` for its own
 * listeners, and is done with: `detachedSocket(res)` tells them the socket
 * goes on as a stream, to follow until it closes. Call it after the request
 * listener has returned: during it the parser is still reading the request,
 * and would put itself back on the server's list of connections.
 */
export function detach(res: ServerResponse): Socket | undefined {
  const socket = res.socket as ParsedSocket | null;
  if (!freeParser || !socket || socket.destroyed || !socket.parser || res.chunkedEncoding) return undefined;
  if (String(res.getHeader('connection')).toLowerCase() !== 'close') return undefined;
  res.flushHeaders();
  const parser = socket.parser;
  for (const [event, names] of Object.entries(HTTP_LISTENERS)) {
    for (const listener of socket.listeners(event) as ((...args: unknown[]) => void)[]) if (names.includes(listener.name)) socket.off(event, listener);
  }
  // The HTTP server wraps these to hand reads back from its parser; with no parser, Socket's own are right.
  socket.on = Socket.prototype.on;
  socket.addListener = Socket.prototype.addListener;
  socket.prependListener = Socket.prototype.prependListener;
  freeParser(parser, res.req, socket);
  res.detachSocket(socket);
  // What the HTTP server did for it: an error ends in close (which the stream hears), and so does the client's end.
  socket.on('error', ignoreError);
  socket.on('end', destroy);
  socket.on('timeout', destroy);
  // No idle timeout while it streams (endDetached sets one).
  socket.setTimeout(0);
  // Whatever the client sends from here on is read and dropped, so its end (or reset) is heard.
  socket.resume();
  handedOver.set(res, socket);
  res.emit('close');
  return socket;
}

/**
 * Ends a detached stream: its body ends with the connection. A client that
 * keeps its side open anyway has ENDED_GRACE_MS to close it (as an idle
 * keep-alive connection would), then the socket is destroyed.
 */
export function endDetached(socket: Socket): void {
  socket.end();
  socket.setTimeout(ENDED_GRACE_MS);
}

/** The socket a response was detached onto: its listeners follow the stream's life there. */
export function detachedSocket(res: ServerResponse): Socket | undefined {
  return handedOver.get(res);
}

function ignoreError(): void {
  // 'close' follows; the stream's owner listens to that.
}

/** The client ended its side, or left an ended stream's socket open too long. */
function destroy(this: Socket): void {
  this.destroy();
}

function loadFreeParser(): FreeParser | undefined {
  try {
    const common = createRequire(import.meta.url)('_http_common') as { freeParser?: unknown };
    return typeof common.freeParser === 'function' ? (common.freeParser as FreeParser) : undefined;
  } catch {
    return undefined;
  }
}
