import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The largest body a publish may carry. */
export const MAX_BODY_BYTES = 64 * 1024;

export type BodyResult = { ok: true; value: unknown } | { ok: false; status: 400 | 413; error: string };

/**
 * Reads a JSON body of at most `limit` bytes. A larger one is refused as
 * soon as it is known to be larger (from Content-Length, or while reading),
 * without buffering the rest.
 */
export function readJsonBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve(tooLarge(limit));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        resolve(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      try {
        resolve({ ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      } catch (error) {
        resolve({ ok: false, status: 400, error: `the body is not valid JSON: ${(error as Error).message}` });
      }
    });
    req.on('error', () => {
      if (!done) resolve({ ok: false, status: 400, error: 'the request body was cut off' });
      done = true;
    });
  });
}

function tooLarge(limit: number): BodyResult {
  return { ok: false, status: 413, error: `the body is larger than ${limit / 1024} KiB` };
}

/** Whether the request carries `Authorization: Bearer <token>`, compared in constant time. */
export function hasBearer(req: IncomingMessage, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
