import { Redis } from 'ioredis';

/**
 * An agent's cluster-wide lock on Redis: a lease. One key per agent,
 * `kit:lease:<agent>`, set with `SET NX PX` to a value only its owner knows;
 * refreshed (PEXPIRE) and released (DEL) by scripts that first check that
 * value, so a holder can never extend or remove a lease that another took
 * after its own expired. Each acquisition draws a fencing number from
 * `INCR kit:fence:<agent>`, kept in the value: it grows with every new owner.
 *
 * The value is `<fence> <token> <owner JSON>`, compared whole.
 */
export interface LeaseOwner {
  /** hostName (ASTRO_CLUSTER_HOST_NAME) of the host that holds it. */
  host: string;
  /** The lock holder's pid there. */
  pid: number;
  /** Its LOGS_DIR: on one machine, several simulated hosts share a host name. */
  logsDir: string;
  since: string;
}

export interface Lease {
  name: string;
  fence: number;
  token: string;
  owner: LeaseOwner;
  /** The stored value, as the scripts compare it. */
  value: string;
}

export type LeaseCheck =
  /** Ours, for `remainingMs` more unless refreshed. */
  | { kind: 'ours'; remainingMs: number }
  /** Another owner holds it now (its fence is newer). */
  | { kind: 'other'; lease: Lease | undefined }
  /** Nobody holds it: ours expired. */
  | { kind: 'none' };

export function leaseKeys(name: string, prefix = 'kit:'): { lease: string; fence: string } {
  return { lease: `${prefix}lease:${name}`, fence: `${prefix}fence:${name}` };
}

/** Reads a stored lease value; undefined for anything this kit did not write. */
export function parseLease(name: string, value: string | null | undefined): Lease | undefined {
  if (!value) return undefined;
  const match = /^(\d+) ([0-9a-f]{8,64}) (\{.*\})$/s.exec(value);
  if (!match) return undefined;
  try {
    const owner = JSON.parse(match[3]!) as Partial<LeaseOwner>;
    if (typeof owner.host !== 'string' || typeof owner.pid !== 'number' || typeof owner.logsDir !== 'string' || typeof owner.since !== 'string') return undefined;
    return { name, fence: Number(match[1]), token: match[2]!, owner: owner as LeaseOwner, value };
  } catch {
    return undefined;
  }
}

/** "host a (pid 42)": who holds a lease, for logs and `mh status`. */
export function describeLeaseOwner(lease: Lease): string {
  return `host ${lease.owner.host} (pid ${lease.owner.pid}, fence ${lease.fence})`;
}

// Atomic in Redis: nobody can slip between the check and the change. A lease that already carries our token
// is ours: an earlier try whose reply timed out (Redis slow, or frozen) may have taken it after all.
const acquireScript = `
local current = redis.call('GET', KEYS[1])
if current then
  if string.match(current, '^%d+ (%x+) ') == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, current}
  end
  return {0, current}
end
local value = redis.call('INCR', KEYS[2]) .. ' ' .. ARGV[1] .. ' ' .. ARGV[3]
redis.call('SET', KEYS[1], value, 'NX', 'PX', ARGV[2])
return {1, value}`;
const refreshScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
const checkScript = `
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then return {1, redis.call('PTTL', KEYS[1])} end
return {0, current or ''}`;

/**
 * A connection for leases. Every command gives up after `timeoutMs`: a
 * lease whose refresh cannot be confirmed in time must count as lost, never
 * wait in a queue while it expires.
 */
export class LeaseClient {
  readonly #redis: Redis;

  constructor(url: string, timeoutMs: number) {
    this.#redis = new Redis(url, {
      maxRetriesPerRequest: 1,
      connectTimeout: Math.max(500, timeoutMs),
      commandTimeout: Math.max(200, timeoutMs),
      // Quick reconnects: a Redis that is back must be seen well within a lease.
      retryStrategy: (times) => Math.min(1000, 50 * times),
    });
    // Failures surface on the commands that fail; without a listener ioredis prints each reconnect attempt.
    this.#redis.on('error', () => undefined);
  }

  /** Takes the lease when nobody holds it; otherwise says who does. */
  async acquire(name: string, owner: LeaseOwner, token: string, leaseMs: number): Promise<{ acquired: true; lease: Lease } | { acquired: false; holder: Lease | undefined }> {
    const keys = leaseKeys(name);
    if (!/^[0-9a-f]{8,64}$/.test(token)) throw new Error(`a lease token is 8 to 64 hex digits, not ${JSON.stringify(token)}`);
    const [taken, value] = (await this.#redis.eval(acquireScript, 2, keys.lease, keys.fence, token, String(leaseMs), JSON.stringify(owner))) as [number, string];
    const lease = parseLease(name, value);
    if (taken === 1 && lease) return { acquired: true, lease };
    return { acquired: false, holder: lease };
  }

  /** Extends the lease if it is still `lease`; false when it is not (expired, or another's). */
  async refresh(lease: Lease, leaseMs: number): Promise<boolean> {
    return (await this.#redis.eval(refreshScript, 1, leaseKeys(lease.name).lease, lease.value, String(leaseMs))) === 1;
  }

  /** Removes the lease only if it is still `lease`. */
  async release(lease: Lease): Promise<boolean> {
    return (await this.#redis.eval(releaseScript, 1, leaseKeys(lease.name).lease, lease.value)) === 1;
  }

  /** Whether the lease is still `value`, and for how long: what an agent asks before each unit of work. */
  async check(name: string, value: string): Promise<LeaseCheck> {
    const [ours, detail] = (await this.#redis.eval(checkScript, 1, leaseKeys(name).lease, value)) as [number, number | string];
    if (ours === 1) return { kind: 'ours', remainingMs: Number(detail) };
    return detail === '' ? { kind: 'none' } : { kind: 'other', lease: parseLease(name, String(detail)) };
  }

  /** Who holds the lease now, if anyone. */
  async holder(name: string): Promise<Lease | undefined> {
    return parseLease(name, await this.#redis.get(leaseKeys(name).lease));
  }

  close(): void {
    this.#redis.disconnect();
  }
}
