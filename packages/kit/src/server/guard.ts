import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { causedBy, requestScope, storageFault, type RequestScope } from '../core/index.cjs';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * Wraps the app so that no request can take a worker down: TRACE and TRACK
 * get 405, a URL that does not decode gets 400, and an error thrown (or
 * rejected) by the app gets 500 when nothing was sent yet, or a closed socket
 * when it was. A store that cannot be written (a full disk under the
 * sessions: Astro saves a session after the page is rendered, and a failed
 * save rejects its handler) gets 503 with the cause, so the client knows to
 * try later.
 */
export function guard(handler: Handler, log: (line: string) => void): RequestListener {
  return (req, res) => {
    // TRACE echoes the request (cookies included) back to a script: the kit answers it, and TRACK, before the site can.
    if (req.method === 'TRACE' || req.method === 'TRACK') {
      res.setHeader('Allow', 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
      return sendText(res, 405, `Method not allowed: ${req.method}.\n`);
    }
    if (!decodes(req.url ?? '/')) return sendText(res, 400, 'Bad request: the URL is not valid percent-encoding.\n');
    const scope: RequestScope = { storeFailures: [] };
    const fail = (error: unknown) => {
      log(`error serving ${req.method} ${req.url}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      const fault = storageFault(error);
      const store = causedBy(error, scope.storeFailures);
      if (res.headersSent || res.writableEnded) res.destroy();
      else if (fault || store) sendText(res, 503, `Service unavailable: the ${store ? 'session store' : 'storage'} cannot be used (${(fault?.message ?? describeError(error))}).\n`, { 'Retry-After': '5' });
      else sendText(res, 500, 'Internal server error.\n');
    };
    const entry = { scope, fail };
    inFlight.add(entry);
    res.on('close', () => inFlight.delete(entry));
    requestScope.run(scope, () => {
      try {
        const pending = handler(req, res);
        if (pending) pending.catch(fail);
      } catch (error) {
        fail(error);
      }
    });
  };
}

/** Requests being served, each with the store failures noted during it. */
const inFlight = new Set<{ scope: RequestScope; fail: (error: unknown) => void }>();
let answering = false;

/**
 * Answers a request whose handler's rejection was dropped (the standalone
 * Astro handler does not return its promise): an unhandled rejection caused
 * by a session store failure noted during a request in flight gets that
 * request a 503, instead of a hang. Only where something else already
 * handles unhandled rejections (the Astro build does, when imported), so
 * Node's default of crashing is not changed for anyone else.
 */
export function answerDroppedRejections(): void {
  if (answering) return;
  answering = true;
  process.on('unhandledRejection', (reason) => void answerStoreFailure(reason));
}

/**
 * Answers the request whose store failure `reason` is, with its 503; true
 * when it was one. The worker's fatal-error handler asks this first: a store
 * that cannot be written is no reason to end the worker.
 */
export function answerStoreFailure(reason: unknown): boolean {
  for (const entry of inFlight) {
    if (entry.scope.storeFailures.length > 0 && causedBy(reason, entry.scope.storeFailures)) {
      inFlight.delete(entry);
      entry.fail(reason);
      return true;
    }
  }
  return false;
}

function describeError(error: unknown): string {
  let deepest = error;
  while (deepest && (deepest as { cause?: unknown }).cause) deepest = (deepest as { cause?: unknown }).cause;
  return deepest instanceof Error ? deepest.message : String(deepest);
}

export function sendText(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** The path of a request URL, without its query. */
export function pathOf(url: string | undefined): string {
  return (url ?? '/').split('?')[0] ?? '/';
}

function decodes(url: string): boolean {
  try {
    decodeURIComponent(pathOf(url));
    return true;
  } catch {
    return false;
  }
}
