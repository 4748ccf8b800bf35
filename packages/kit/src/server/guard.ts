import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { storageFault } from '../core/index.cjs';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * Wraps the app so that no request can take a worker down: a URL that does
 * not decode gets 400, and an error thrown (or rejected) by the app gets 500
 * when nothing was sent yet, or a closed socket when it was. A store that
 * cannot be written (a full disk under the sessions: Astro saves a session
 * after the page is rendered, and a failed save rejects its handler) gets
 * 503 with the cause, so the client knows to try later.
 */
export function guard(handler: Handler, log: (line: string) => void): RequestListener {
  return (req, res) => {
    if (!decodes(req.url ?? '/')) return sendText(res, 400, 'Bad request: the URL is not valid percent-encoding.\n');
    const fail = (error: unknown) => {
      log(`error serving ${req.method} ${req.url}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      const fault = storageFault(error);
      if (res.headersSent) res.destroy();
      else if (fault) sendText(res, 503, `Service unavailable: storage cannot be written (${fault.message}).\n`, { 'Retry-After': '5' });
      else sendText(res, 500, 'Internal server error.\n');
    };
    try {
      const pending = handler(req, res);
      if (pending) pending.catch(fail);
    } catch (error) {
      fail(error);
    }
  };
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
