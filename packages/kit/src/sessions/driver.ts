// The session driver Astro loads (astro.config.ts: session.driver). It reads
// the environment when a worker starts, not when the site is built, so one
// build runs with files on one host or with Redis across several.
import path from 'node:path';
import { logPaths, noteStoreFailure, readSettings } from '../core/index.cjs';
import type { Driver } from 'unstorage';
import redisDriver from 'unstorage/drivers/redis';
import { atomicFsDriver } from './atomic-fs.js';
import { guardKeys } from './keys.js';

/** Sessions live this long after their last change (seconds), in Redis; files are pruned by the scheduler's cleanup job. */
const TTL_SECONDS = 14 * 86_400;

/**
 * ioredis queues commands while it cannot reach Redis, and retries for ever:
 * a session read would hang its request. A few tries, then an error, which
 * the worker answers with 503.
 */
const FAIL_FAST = { connectTimeout: 2000, maxRetriesPerRequest: 2 };

export default function kitSessionDriver(): Driver {
  const settings = readSettings();
  // Any cookie reaches the driver as a key: a bad one is no session, on both stores.
  if (settings.redisUrl) return guardKeys(reportingFailures(redisDriver({ url: settings.redisUrl, base: 'kit:sessions', ttl: TTL_SECONDS, ...FAIL_FAST })));
  return guardKeys(reportingFailures(atomicFsDriver(path.join(logPaths(settings.logsDir).run, 'sessions'))));
}

/**
 * The driver, with each failure noted against the request it served
 * (core/request-scope.cts): Astro saves a session after the page, where a
 * failure would otherwise leave the request hanging, never answered.
 */
function reportingFailures(driver: Driver): Driver {
  const wrapped: Record<string, unknown> = { ...driver };
  for (const [name, method] of Object.entries(driver)) {
    if (typeof method !== 'function' || name === 'dispose' || name === 'watch') continue;
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await (method as (...a: unknown[]) => unknown).apply(driver, args);
      } catch (error) {
        noteStoreFailure(error);
        throw error;
      }
    };
  }
  return wrapped as unknown as Driver;
}

export { isSessionId } from './keys.js';
