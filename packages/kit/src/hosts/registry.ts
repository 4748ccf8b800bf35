import { Redis } from 'ioredis';
import type { HostRole, Settings } from '../core/index.cjs';

/**
 * Which hosts are up, as each one says itself: with Redis, one key per host
 * (`kit:hosts:<name>`) holding its roles, release and health, written with a
 * time to live (HOST_TTL_S) and refreshed while the host runs: by its web
 * workers, or on a host without the web role by its agents' supervisor, and
 * by start and status. A host that dies stops refreshing and drops out of
 * the list within the time to live; nothing has to notice the death. With
 * the file backend there is one host, and the list is this host alone.
 */
export interface HostRecord {
  name: string;
  roles: HostRole[];
  /** The release its web workers serve; null on a host without the web role (or none yet). */
  release: string | null;
  /** Where its web cluster listens (HOST:PORT as the host sees it). */
  listen: string | null;
  /** ok, degraded, out-of-rotation, or what the status command found. */
  health: string;
  /** Who wrote the record: a web worker (its pid) or a command. */
  by: string;
  updatedAt: string;
}

type RegistrySettings = Pick<Settings, 'redisUrl' | 'eventsBackend' | 'hostTtlS'>;

/** How often a host's record is rewritten: three refreshes fit in its time to live, so one lost write does not drop it. */
export function hostRefreshMs(settings: Pick<Settings, 'hostTtlS'>): number {
  return Math.round((settings.hostTtlS * 1000) / 3);
}

const prefix = 'kit:hosts:';

/** A short-lived Redis client that fails fast: a registry that cannot be reached must not hold up a command or a worker. */
function client(url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2000, enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null });
  redis.on('error', () => undefined);
  return redis;
}

/** Writes this host's record; false when there is no Redis or it cannot be reached (said by the caller if it matters). */
export async function registerHost(settings: RegistrySettings, record: HostRecord): Promise<boolean> {
  if (settings.eventsBackend !== 'redis' || !settings.redisUrl) return false;
  const redis = client(settings.redisUrl);
  try {
    await redis.connect();
    await redis.set(`${prefix}${record.name}`, JSON.stringify(record), 'EX', settings.hostTtlS);
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** Every host whose record is alive, by name; undefined when the registry cannot be read (no Redis, or Redis away). */
export async function listHosts(settings: Pick<Settings, 'redisUrl' | 'eventsBackend'>): Promise<HostRecord[] | undefined> {
  if (settings.eventsBackend !== 'redis' || !settings.redisUrl) return undefined;
  const redis = client(settings.redisUrl);
  try {
    await redis.connect();
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 100);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    const values = keys.length > 0 ? await redis.mget(...keys) : [];
    return values
      .flatMap((value) => {
        try {
          return value ? [JSON.parse(value) as HostRecord] : [];
        } catch {
          return [];
        }
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

/** Removes a host's record (its clean stop): it leaves the list at once rather than when its time to live runs out. */
export async function unregisterHost(settings: RegistrySettings, name: string): Promise<boolean> {
  if (settings.eventsBackend !== 'redis' || !settings.redisUrl) return false;
  const redis = client(settings.redisUrl);
  try {
    await redis.connect();
    await redis.del(`${prefix}${name}`);
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * Keeps this host's record alive from a web worker: written at once, then
 * every third of HOST_TTL_S until `stop`. Every worker of the host does it
 * (any one alive keeps the host listed); the writes are the same but for `by`.
 */
export function keepHostRegistered(settings: Settings, facts: () => Omit<HostRecord, 'name' | 'roles' | 'updatedAt'>): () => void {
  const stop = refreshRecord(settings, facts);
  return () => void stop();
}

/**
 * Keeps the record of a host without the web role alive from its agents'
 * supervisor (no web worker writes it there), and removes it when the
 * supervisor stops cleanly. On a web host it does nothing: the workers'
 * record says more (release, address, health).
 */
export function keepAgentsHostRegistered(settings: Settings, by: string): () => Promise<void> {
  if (settings.roles.includes('web')) return async () => undefined;
  const stop = refreshRecord(settings, () => ({ release: null, listen: null, health: 'ok', by }));
  return async () => {
    if (await stop()) await unregisterHost(settings, settings.hostName);
  };
}

/** Writes the record now and every hostRefreshMs; the stop waits for a write under way, so a removal after it holds. False when there is no registry. */
function refreshRecord(settings: Settings, facts: () => Omit<HostRecord, 'name' | 'roles' | 'updatedAt'>): () => Promise<boolean> {
  if (settings.eventsBackend !== 'redis' || !settings.redisUrl) return async () => false;
  let stopped = false;
  let writing: Promise<unknown> = Promise.resolve();
  const refresh = () => {
    if (!stopped) writing = registerHost(settings, { name: settings.hostName, roles: settings.roles, ...facts(), updatedAt: new Date().toISOString() });
  };
  refresh();
  const timer = setInterval(refresh, hostRefreshMs(settings));
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await writing;
    return true;
  };
}
