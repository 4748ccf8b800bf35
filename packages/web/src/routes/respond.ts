import type { ServerResponse } from 'node:http';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** The answer to a body readJsonBody refused: 400, or 413 closing the connection (the rest of the body is not read). */
export function sendBodyError(res: ServerResponse, body: { status: 400 | 413; error: string }): void {
  sendJson(res, body.status, { error: body.error }, body.status === 413 ? { Connection: 'close' } : {});
}

/** 503 when the event log cannot be written (Redis away, say): the client may retry. */
export function sendUnavailable(res: ServerResponse, error: unknown): void {
  sendJson(res, 503, { error: `the event log is not available: ${(error as Error).message}` });
}
