import { Redis } from 'ioredis';
import type { HostRole, Settings } from '../core/index.cjs';

/**
 * Which hosts are up, as each one says itself: with Redis, one key per host
 * (`kit:hosts:<name>`) holding its roles, release and health, written with a
 * time to live and refreshed while the host runs (by its web workers, and by
 * start and status). A host that dies stops refreshing and drops out of the
 * list within HOST_TTL_S; nothing has to notice the death. With the file
 * backend there is one host, and the list is this host alone.
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

/** A record older than this is gone: three refreshes missed. */
export const HOST_TTL_S = 30;
/** How often a web worker rewrites its host's record. */
export const HOST_REFRESH_MS = 10_000;

const prefix = 'kit:hosts:';

/** A short-lived Redis client that fails fast: a registry that cannot be reached must not hold up a command or a worker. */
function client(url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2000, enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null });
  redis.on('error', () => undefined);
  return redis;
}

/** Writes this host's record; false when there is no Redis or it cannot be reached (said by the caller if it matters). */
export async function registerHost(settings: Pick<Settings, 'redisUrl' | 'eventsBackend'>, record: HostRecord): Promise<boolean> {
  if (settings.eventsBackend !== 'redis' || !settings.redisUrl) return false;
  const redis = client(settings.redisUrl);
  try {
    await redis.connect();
    await redis.set(`${prefix}${record.name}`, JSON.stringify(record), 'EX', HOST_TTL_S);
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

/**
 * Keeps this host's record alive from a web worker: written at once, then
 * every HOST_REFRESH_MS until `stop`. Every worker of the host does it (any
 * one alive keeps the host listed); the writes are the same but for `by`.
 */
export function keepHostRegistered(settings: Settings, facts: () => Omit<HostRecord, 'name' | 'roles' | 'updatedAt'>): () => void {
  if (settings.eventsBackend !== 'redis' || !settings.redisUrl) return () => undefined;
  let stopped = false;
  const refresh = () => {
    if (!stopped) void registerHost(settings, { name: settings.hostName, roles: settings.roles, ...facts(), updatedAt: new Date().toISOString() });
  };
  refresh();
  const timer = setInterval(refresh, HOST_REFRESH_MS);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
