/** How a supervisor treats an agent that keeps exiting. */
export interface RestartPolicy {
  /** Crashes in a row after which the agent is left stopped, as `failed`. */
  maxRestarts: number;
  /** Delay before the first restart; doubled after each further crash. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A run at least this long was healthy: the count of crashes in a row starts again. */
  stableAfterMs: number;
}

export const defaultRestartPolicy: RestartPolicy = {
  maxRestarts: 5,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  stableAfterMs: 60_000,
};

/** Crashes in a row, counting this one: a long healthy run resets the count. */
export function crashesInARow(previous: number, ranForMs: number, policy: RestartPolicy): number {
  return ranForMs >= policy.stableAfterMs ? 1 : previous + 1;
}

export type AfterCrash = { action: 'restart'; delayMs: number } | { action: 'give-up' };

/** Exponential back-off: base, 2×base, 4×base … up to maxDelayMs; after maxRestarts, give up. */
export function afterCrash(inARow: number, policy: RestartPolicy): AfterCrash {
  if (inARow > policy.maxRestarts) return { action: 'give-up' };
  return { action: 'restart', delayMs: Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, inARow - 1)) };
}
