// Which request a session store failure belongs to. The standalone handler of
// @astrojs/node drops the promise of each render (it calls its app handler
// without returning it), so when Astro's session save fails after the page
// (a full disk, a sessions path that is a plain file, Redis away) the
// rejection reaches no one and the request hangs. The kit's session driver
// notes each failure in the request's scope; the worker then answers that
// request 503 when the rejection comes back unhandled.
//
// One AsyncLocalStorage for the whole process, kept on globalThis: the driver
// runs from a copy bundled into the Astro build, the worker from the kit.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface RequestScope {
  /** Errors the session store threw during this request. */
  storeFailures: unknown[];
}

const key = Symbol.for('astro-cluster-kit.request-scope');
const shared = globalThis as unknown as Record<symbol, AsyncLocalStorage<RequestScope> | undefined>;
export const requestScope: AsyncLocalStorage<RequestScope> = (shared[key] ??= new AsyncLocalStorage<RequestScope>());

/** Records a session store failure against the request being served, if any. */
export function noteStoreFailure(error: unknown): void {
  requestScope.getStore()?.storeFailures.push(error);
}

/** Whether `error` is one of `failures`, or wraps one (Astro wraps a driver's error as its cause). */
export function causedBy(error: unknown, failures: readonly unknown[]): boolean {
  for (let current = error, depth = 0; current && depth < 8; current = (current as { cause?: unknown }).cause, depth++) {
    if (failures.includes(current)) return true;
  }
  return false;
}
