import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { logPaths, type Settings } from '../core/index.cjs';
import { FileEventLog } from './file-log.js';
import { RedisEventLog } from './redis-log.js';
import type { EventLog } from './types.js';

/** The event log the settings name: files under LOGS_DIR/run/events, or Redis Streams at REDIS_URL. */
export function openEventLog(settings: Settings): EventLog {
  const retention = { count: settings.eventsRetentionCount, maxAgeMs: settings.eventsMaxAgeMs };
  if (settings.eventsBackend === 'redis' && settings.redisUrl) return new RedisEventLog(settings.redisUrl, retention);
  return new FileEventLog(logPaths(settings.logsDir).events, retention);
}

/**
 * The bearer token for publishing over HTTP: EVENTS_TOKEN, or else one made
 * once and kept in LOGS_DIR/run/events.token (mode 600), so every worker
 * and command of this installation agrees on it.
 */
export async function eventsToken(settings: Settings): Promise<string> {
  if (settings.eventsToken) return settings.eventsToken;
  const file = path.join(logPaths(settings.logsDir).run, 'events.token');
  // Made once: read as it is when it exists (writing a candidate first would fail on a full disk for nothing).
  const existing = await readFile(file, 'utf8').then((text) => text.trim(), () => '');
  if (existing) return existing;
  await mkdir(path.dirname(file), { recursive: true });
  // Written beside it, then linked into place: a worker that loses the race reads the winner's whole token, never an empty file.
  const candidate = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(candidate, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
    await link(candidate, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    // Also when the write failed (a full disk): no candidate is left behind.
    await unlink(candidate).catch(() => undefined);
  }
  return (await readFile(file, 'utf8')).trim();
}
