import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { errors } from 'astro-cluster-kit/core';
import { parseSize } from 'astro-cluster-kit/logs';

export type Job =
  | { name: string; type: 'heartbeat'; everyMs: number }
  | { name: string; type: 'prune-events'; everyMs: number }
  | { name: string; type: 'rotate-logs'; everyMs: number; maxBytes: number; keep: number; paths: string[] }
  | { name: string; type: 'cleanup'; everyMs: number; olderThanMs: number; paths: string[] };

/** "250ms", "30s", "5m", "1h", "14d" → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  const value = Number(match[1]) * unit;
  return value > 0 ? value : undefined;
}

/** Reads scheduler.json, refusing anything it could not run safely (a cleanup outside LOGS_DIR, say). */
export async function loadJobs(file: string): Promise<Job[]> {
  const invalid = (problem: string) => errors.schedulerConfigInvalid(file, problem);
  let raw: { jobs?: unknown };
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw invalid((error as Error).message);
  }
  if (!Array.isArray(raw.jobs) || raw.jobs.length === 0) throw invalid('expected { "jobs": [ … ] } with at least one job');
  const names = new Set<string>();
  return raw.jobs.map((entry: Record<string, unknown>, index): Job => {
    const where = `jobs[${index}]`;
    const name = entry.name;
    if (typeof name !== 'string' || !/^[a-z][a-z0-9-]*$/.test(name) || names.has(name)) throw invalid(`${where}.name must be a unique lower-case name`);
    names.add(name);
    const everyMs = parseDuration(String(entry.every ?? ''));
    if (!everyMs) throw invalid(`${where}.every must be a duration such as 30s, 5m or 1h`);
    if (entry.type === 'heartbeat' || entry.type === 'prune-events') return { name, type: entry.type, everyMs };
    if (entry.type === 'rotate-logs') {
      const maxBytes = parseSize(String(entry.maxSize ?? ''));
      if (!maxBytes) throw invalid(`${where}.maxSize must be a size such as 10M`);
      const keep = entry.keep;
      if (typeof keep !== 'number' || !Number.isInteger(keep) || keep < 1 || keep > 1000) throw invalid(`${where}.keep must be a whole number from 1 to 1000`);
      const paths = patterns(entry.paths);
      if (!paths) throw invalid(`${where}.paths must be patterns relative to LOGS_DIR, such as "pm2/*.log" (no "..", no absolute paths, "*" only in the file name)`);
      return { name, type: 'rotate-logs', everyMs, maxBytes, keep, paths };
    }
    if (entry.type === 'cleanup') {
      const olderThanMs = parseDuration(String(entry.olderThan ?? ''));
      if (!olderThanMs) throw invalid(`${where}.olderThan must be a duration such as 14d`);
      const paths = patterns(entry.paths);
      if (!paths) throw invalid(`${where}.paths must be patterns relative to LOGS_DIR, such as "bench/*" (no "..", no absolute paths, "*" only in the file name)`);
      return { name, type: 'cleanup', everyMs, olderThanMs, paths };
    }
    throw invalid(`${where}.type must be "heartbeat", "cleanup", "rotate-logs" or "prune-events"`);
  });
}

/** A non-empty list of patterns inside LOGS_DIR, or undefined. */
function patterns(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.length > 0 && value.every((p) => typeof p === 'string' && isInsidePattern(p)) ? (value as string[]) : undefined;
}

function isInsidePattern(pattern: string): boolean {
  if (path.isAbsolute(pattern) || pattern.split('/').some((part) => part === '..' || part === '')) return false;
  return !path.dirname(pattern).includes('*');
}
