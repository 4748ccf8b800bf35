import { lstat, unlink } from 'node:fs/promises';
import { matchingFiles } from 'astro-cluster-kit/core';
import type { Job } from './config.js';

/** What a heartbeat reports: that the scheduler is alive, and how big it is. */
export function heartbeat(startedAt: number): string {
  const rssMb = (process.memoryUsage().rss / 1024 / 1024).toFixed(1);
  return `alive for ${Math.round((Date.now() - startedAt) / 1000)} s, rss ${rssMb} MB`;
}

/**
 * Removes regular files under LOGS_DIR that match the job's patterns and
 * were last changed before `olderThan`. Never follows a symlink, never
 * touches a folder.
 */
export async function cleanup(job: Extract<Job, { type: 'cleanup' }>, logsDir: string, now = Date.now()): Promise<string> {
  let removed = 0;
  let bytes = 0;
  for (const pattern of job.paths) {
    for (const file of await matchingFiles(logsDir, pattern)) {
      const info = await lstat(file).catch(() => undefined);
      if (!info?.isFile() || now - info.mtimeMs < job.olderThanMs) continue;
      await unlink(file).catch(() => undefined);
      removed += 1;
      bytes += info.size;
    }
  }
  return `removed ${removed} file(s), ${(bytes / 1024).toFixed(1)} KiB, older than ${Math.round(job.olderThanMs / 3_600_000)} h`;
}
