import { timingSafeEqual } from 'node:crypto';
import { jsonTextDepth, MAX_JSON_DEPTH } from './json-depth.js';

/** The largest body a publish may carry. */
export const MAX_BODY_BYTES = 64 * 1024;

export type BodyResult = { ok: true; value: unknown } | { ok: false; status: 400 | 413; error: string };

/**
 * Reads a JSON body of at most `limit` bytes. A larger one is refused as
 * soon as it is known to be larger (from Content-Length, or while reading),
 * without buffering the rest. JSON nested more than MAX_JSON_DEPTH levels is a 400.
 */
export async function readJsonBody(request: Request, limit = MAX_BODY_BYTES): Promise<BodyResult> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) return tooLarge(limit);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > limit) {
          await reader.cancel().catch(() => undefined);
          return tooLarge(limit);
        }
        chunks.push(value);
      }
    } catch {
      return { ok: false, status: 400, error: 'the request body was cut off' };
    }
  }
  const text = Buffer.concat(chunks).toString('utf8');
  // Checked before parsing: deep data would only fail later, when it is stored or read back.
  if (jsonTextDepth(text) > MAX_JSON_DEPTH) return { ok: false, status: 400, error: `the body is nested more than ${MAX_JSON_DEPTH} levels deep` };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, status: 400, error: `the body is not valid JSON: ${(error as Error).message}` };
  }
}

function tooLarge(limit: number): BodyResult {
  return { ok: false, status: 413, error: `the body is larger than ${limit / 1024} KiB` };
}

/** Whether the request carries `Authorization: Bearer <token>`, compared in constant time. */
export function hasBearer(request: Request, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A JSON answer, as an endpoint returns it. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(`${JSON.stringify(body)}\n`, { status, headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers } });
}
