import { pollUntil } from 'astro-cluster-kit/core';

/**
 * Polls `check` until it returns something other than undefined/false, or
 * fails after `timeoutMs` with the last reason. Tests wait for conditions,
 * never for fixed times.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 30_000, intervalMs = 100 } = {},
): Promise<T> {
  const { value, lastError } = await pollUntil(check, { timeoutMs, intervalMs, retryOnError: true });
  if (value !== undefined) return value;
  const reason = lastError instanceof Error ? `: ${lastError.message}` : lastError ? `: ${String(lastError)}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`);
}
