import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { logPaths, type Settings } from '../core/index.cjs';
import type { EventLog } from '../events/types.js';

export interface EventLogSize {
  topics: number;
  /** Events kept; for files, counted from ids (segment names and the newest id), exact unless damaged lines were set aside. */
  events: number;
  bytes: number;
  /** Topics past the cap, not measured (their events and bytes are missing from the totals). */
  skippedTopics: number;
}

/** A scrape measures this many topics at most: task topics come and go by the thousand, and a scrape must stay cheap. */
export const MAX_TOPICS = 200;

/**
 * The size of the shared event log. Files: one folder per topic of
 * segment files named after their first id, so bytes are a stat of each
 * file and events the newest id less the oldest segment's first. Redis:
 * XLEN and MEMORY USAGE of each topic's stream, pipelined.
 */
export async function eventLogSize(settings: Settings, log: EventLog): Promise<EventLogSize> {
  if (log.backend === 'redis' && settings.redisUrl) return redisSize(settings.redisUrl);
  return fileSize(logPaths(settings.logsDir).events, log);
}

async function fileSize(root: string, log: EventLog): Promise<EventLogSize> {
  const topics = (await readdir(root, { withFileTypes: true }).catch(() => [])).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  const measured = topics.slice(0, MAX_TOPICS);
  const size: EventLogSize = { topics: topics.length, events: 0, bytes: 0, skippedTopics: topics.length - measured.length };
  for (const topic of measured) {
    const dir = path.join(root, topic);
    const files = await readdir(dir).catch(() => [] as string[]);
    const firstIds: number[] = [];
    for (const file of files) {
      size.bytes += (await stat(path.join(dir, file)).catch(() => undefined))?.size ?? 0;
      const first = /^(\d+)\.ndjson$/.exec(file)?.[1];
      if (first) firstIds.push(Number(first));
    }
    if (firstIds.length === 0) continue;
    const newest = Number(await log.latestId(topic).catch(() => '0'));
    if (Number.isFinite(newest) && newest > 0) size.events += Math.max(0, newest - Math.min(...firstIds) + 1);
  }
  return size;
}

async function redisSize(url: string): Promise<EventLogSize> {
  // Its own short-lived connection: the log's is busy with blocking XREADs.
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  try {
    await redis.connect();
    const topics = await redis.smembers('kit:topics');
    const measured = topics.slice(0, MAX_TOPICS);
    const pipeline = redis.pipeline();
    for (const topic of measured) pipeline.xlen(`kit:events:${topic}`).call('MEMORY', 'USAGE', `kit:events:${topic}`);
    const replies = (await pipeline.exec()) ?? [];
    const size: EventLogSize = { topics: topics.length, events: 0, bytes: 0, skippedTopics: topics.length - measured.length };
    replies.forEach(([error, value], i) => {
      if (error) return;
      if (i % 2 === 0) size.events += Number(value) || 0;
      else size.bytes += Number(value) || 0;
    });
    return size;
  } finally {
    redis.disconnect();
  }
}
