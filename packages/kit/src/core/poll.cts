import { setTimeout as sleep } from 'node:timers/promises';

export interface PollOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Treat a thrown error as "not yet" (remembered as lastError) instead of failing at once. */
  retryOnError?: boolean;
}

/**
 * Calls `check` until it returns something other than undefined/false, or
 * the time is up. Waiting for a condition, not for a fixed time, is what
 * keeps a loaded 2-core machine from turning timing into failures.
 */
export async function pollUntil<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs, intervalMs = 100, retryOnError = false }: PollOptions,
): Promise<{ value: T | undefined; lastError: unknown }> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return { value, lastError: undefined };
    } catch (error) {
      if (!retryOnError) throw error;
      lastError = error;
    }
    if (Date.now() >= deadline) return { value: undefined, lastError };
    await sleep(intervalMs);
  }
}
