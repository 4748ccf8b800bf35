// The session driver Astro loads (astro.config.ts: session.driver). It reads
// the environment when a worker starts, not when the site is built, so one
// build runs with files on one host or with Redis across several.
import path from 'node:path';
import { logPaths, readSettings } from '../core/index.cjs';
import type { Driver } from 'unstorage';
import redisDriver from 'unstorage/drivers/redis';
import { atomicFsDriver } from './atomic-fs.js';
import { guardKeys } from './keys.js';

/** Sessions live this long after their last change (seconds), in Redis; files are pruned by the scheduler's cleanup job. */
const TTL_SECONDS = 14 * 86_400;

export default function kitSessionDriver(): Driver {
  const settings = readSettings();
  // Any cookie reaches the driver as a key: a bad one is no session, on both stores.
  if (settings.redisUrl) return guardKeys(redisDriver({ url: settings.redisUrl, base: 'kit:sessions', ttl: TTL_SECONDS }));
  return guardKeys(atomicFsDriver(path.join(logPaths(settings.logsDir).run, 'sessions')));
}

export { isSessionId } from './keys.js';
