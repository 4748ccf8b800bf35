import { describe } from '../core/index.cjs';
import { describeLeaseOwner, type Lease, type LeaseClient, type LeaseOwner } from './redis-lease.js';

/**
 * The lock holder's side of a Redis lease: wait for it (standby while
 * another host holds it), then keep it refreshed, and say at once when it is
 * lost. Lost means Redis said the lease is no longer ours, or Redis could
 * not confirm a refresh before the lease would expire: either way, from then
 * on another host may hold it, so the holder's command must stop acting.
 */

/** What the holder shows while another host runs the agent (in its owner record, for `mh status`). */
export interface Standby {
  /** Who holds the lease, e.g. "host b (pid 42, fence 7)"; null when Redis cannot be asked. */
  holder: string | null;
  reason: string;
}

export interface WaitOptions {
  client: LeaseClient;
  name: string;
  owner: LeaseOwner;
  token: string;
  leaseMs: number;
  signal: AbortSignal;
  log(line: string): void;
  /** Called when the standby changes (another holder, Redis away). */
  onStandby(standby: Standby): void;
}

/** How often a standby host asks for the lease: a fifth of it, at most a second, so a takeover follows expiry closely. */
export function standbyPollMs(leaseMs: number): number {
  return Math.min(1000, Math.floor(leaseMs / 5));
}

/** How often a held lease is refreshed: three times within it, so one lost reply never costs it. */
export function refreshEveryMs(leaseMs: number): number {
  return Math.floor(leaseMs / 3);
}

/**
 * Whether a holder that could not reach Redis must give up its lease now:
 * the last confirmed refresh keeps it until `confirmedUntil`, and a margin
 * (a fifth of the lease) is kept for the command to stop before another host
 * can take it.
 */
export function mustGiveUp(now: number, confirmedUntil: number, leaseMs: number): boolean {
  return now >= confirmedUntil - leaseMs / 5;
}

/** Waits until the lease is ours; undefined when `signal` aborts first. */
export async function waitForLease(options: WaitOptions): Promise<Lease | undefined> {
  const { client, name, leaseMs, signal, log } = options;
  let said = '';
  while (!signal.aborted) {
    let standby: Standby;
    try {
      const result = await client.acquire(name, { ...options.owner, since: new Date().toISOString() }, options.token, leaseMs);
      if (result.acquired) {
        log(`took the cluster-wide lease (Redis, fence ${result.lease.fence}, ${leaseMs} ms)`);
        return result.lease;
      }
      const holder = result.holder ? describeLeaseOwner(result.holder) : 'an unknown owner';
      standby = { holder, reason: `runs on ${holder}` };
    } catch (error) {
      standby = { holder: null, reason: `Redis cannot be reached (${describe(error)}): waiting for it` };
    }
    // Said once per change, not on every poll.
    const key = standby.holder?.replace(/, fence \d+/, '') ?? standby.reason;
    if (key !== said) {
      said = key;
      log(`standby: ${standby.reason}`);
      options.onStandby(standby);
    }
    await pause(standbyPollMs(leaseMs) * (0.75 + Math.random() / 2), signal);
  }
  return undefined;
}

export interface KeptLease {
  /** Stops refreshing (before a release, or once lost). */
  stop(): void;
}

/** Refreshes `lease` until stopped; `onLost` is called at most once, with the reason. */
export function keepLease(client: LeaseClient, lease: Lease, leaseMs: number, onLost: (reason: string) => void): KeptLease {
  let confirmedUntil = Date.now() + leaseMs;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const lose = (reason: string) => {
    if (stopped) return;
    stopped = true;
    onLost(reason);
  };
  const tick = async () => {
    const sentAt = Date.now();
    try {
      if (await client.refresh(lease, leaseMs)) confirmedUntil = sentAt + leaseMs;
      else return lose('Redis says the lease is no longer ours (it expired, and another host may hold it)');
    } catch (error) {
      if (mustGiveUp(Date.now(), confirmedUntil, leaseMs)) return lose(`Redis could not confirm the lease before it would expire (${describe(error)})`);
    }
    if (!stopped) timer = setTimeout(() => void tick(), refreshEveryMs(leaseMs));
  };
  timer = setTimeout(() => void tick(), refreshEveryMs(leaseMs));
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
