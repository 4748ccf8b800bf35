/** How an agent process ends, so that its supervisor knows what happened. */
export const exitCodes = {
  /** Asked to stop, finished its unit of work, released its lock. */
  stopped: 0,
  /** Threw: the supervisor restarts it with back-off. */
  crashed: 1,
  /** Another process holds its lock: nothing was done. */
  alreadyRunning: 3,
  /** Its lock was taken over (it was frozen past the stale window): it stopped without acting. */
  lockLost: 4,
  /** Its command does not exist (a lock holder could not start it): retrying will not help. */
  commandMissing: 5,
} as const;
