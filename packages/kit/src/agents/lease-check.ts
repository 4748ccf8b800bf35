import { LeaseClient, parseLease, type Lease } from './redis-lease.js';

/**
 * The agent's side of the cluster-wide lease: before each unit of work it
 * asks Redis (one script) whether the lease still holds the value its holder
 * took, fencing number included, with time enough left to act. A holder that
 * froze and resumed finds another value there and its agent stops here
 * without acting, even before the holder itself notices.
 */
export interface LeaseGuard {
  readonly lease: Lease;
  /** True while the lease is ours with at least a quarter of it left; waits up to a third of it for a late refresh. */
  holds(): Promise<boolean>;
  close(): void;
}

/** Enough of the lease left to act: a quarter of it (the holder refreshes every third). */
export function leftEnough(remainingMs: number, leaseMs: number): boolean {
  return remainingMs > leaseMs / 4;
}

export function leaseGuard(name: string, value: string, redisUrl: string, leaseMs: number): LeaseGuard | undefined {
  const lease = parseLease(name, value);
  if (!lease) return undefined;
  const client = new LeaseClient(redisUrl, Math.max(250, Math.floor(leaseMs / 4)));
  return {
    lease,
    async holds() {
      const deadline = Date.now() + leaseMs / 3;
      for (;;) {
        const check = await client.check(name, value).catch(() => undefined);
        if (check?.kind === 'ours' && leftEnough(check.remainingMs, leaseMs)) return true;
        if (check && check.kind !== 'ours') return false;
        // Redis slow or away, or the refresh is late: ask again until the deadline.
        if (Date.now() >= deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    close: () => client.close(),
  };
}
