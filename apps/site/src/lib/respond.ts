import { json, storageFault, workerInfo } from 'astro-cluster-kit/events';

/** A JSON answer that says which worker gave it (the tests and the ops page read `x-worker`). */
export function answer(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return json(status, body, { 'x-worker': workerInfo().instance, ...headers });
}

/** 405 with the methods that are allowed. */
export function notAllowed(allow: string, error: string): Response {
  return answer(405, { error }, { Allow: allow });
}

/** The answer to a body readJsonBody refused: 400, or 413 closing the connection (the rest of the body is not read). */
export function bodyError(body: { status: 400 | 413; error: string }): Response {
  return answer(body.status, { error: body.error }, body.status === 413 ? { Connection: 'close' } : {});
}

/** 503 when the event log cannot be written (Redis away, say): the client may retry. */
export function unavailable(error: unknown): Response {
  return answer(503, { error: `the event log is not available: ${(error as Error).message}` });
}

/**
 * 503 when the session store cannot be read or written (a full disk, a sessions path that is not a folder):
 * the cause, and a hint to try later. Anything else is not ours to explain: thrown on.
 */
export function sessionUnavailable(error: unknown): Response {
  const fault = storageFault(error);
  if (!fault) throw error;
  return answer(503, { error: `the session store is not available: ${fault.message}` }, { 'Retry-After': '5' });
}
