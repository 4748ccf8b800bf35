import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * Wraps the app so that no request can take a worker down: TRACE and TRACK
 * get 405, a URL that does not decode gets 400, and an error thrown (or rejected) by the app gets 500
 * when nothing was sent yet, or a closed socket when it was.
 */
export function guard(handler: Handler, log: (line: string) => void): RequestListener {
  return (req, res) => {
    // TRACE echoes the request (cookies included) back to a script: the kit answers it, and TRACK, before the site can.
    if (req.method === 'TRACE' || req.method === 'TRACK') {
      res.setHeader('Allow', 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
      return sendText(res, 405, `Method not allowed: ${req.method}.\n`);
    }
    if (!decodes(req.url ?? '/')) return sendText(res, 400, 'Bad request: the URL is not valid percent-encoding.\n');
    const fail = (error: unknown) => {
      log(`error serving ${req.method} ${req.url}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      if (!res.headersSent) sendText(res, 500, 'Internal server error.\n');
      else res.destroy();
    };
    try {
      const pending = handler(req, res);
      if (pending) pending.catch(fail);
    } catch (error) {
      fail(error);
    }
  };
}

export function sendText(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
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
