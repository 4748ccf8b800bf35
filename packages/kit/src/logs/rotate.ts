import { lstat, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { matchingFiles, pidsHolding, pollUntil } from '../core/index.cjs';

export interface RotateOptions {
  logsDir: string;
  /** Files to watch, relative to LOGS_DIR, `*` in the file name only: `pm2/*.log`. */
  patterns: string[];
  /** A file larger than this is rotated. */
  maxBytes: number;
  /** Rotated files kept: NAME.1 (newest) … NAME.keep; the one past it is removed. */
  keep: number;
  /** Makes the writers reopen their files (PM2: reloadLogs). Writers that open per line need nothing. */
  reopen?: (rotated: string[]) => Promise<void>;
  /** How long to wait for every writer to leave the rotated files. */
  reopenTimeoutMs?: number;
}

export interface RotateResult {
  rotated: string[];
  /** Processes still writing into a file that was rotated away after the wait (should be none). */
  stillOpen: number[];
}

/**
 * Rotates by renaming: NAME → NAME.1 → NAME.2 …, then asks the writers to
 * reopen NAME. A line written meanwhile lands in NAME.1, never nowhere (as
 * it would with copy-and-truncate). It then waits until no process holds a
 * rotated file open.
 */
export async function rotateLogs(options: RotateOptions): Promise<RotateResult> {
  const rotated: string[] = [];
  try {
    await shiftLarge(options, rotated);
  } catch (error) {
    // Writers of the files already renamed must reopen all the same, or they would write into NAME.1 for good.
    if (rotated.length > 0) await options.reopen?.(rotated).catch(() => undefined);
    throw error;
  }
  if (rotated.length === 0) return { rotated, stillOpen: [] };
  await options.reopen?.(rotated);
  const away = new Set(rotated.map((file) => `${file}.1`));
  const holders = () => pidsHolding((target) => away.has(target));
  const { value } = await pollUntil(() => holders().length === 0, { timeoutMs: options.reopenTimeoutMs ?? 10_000, intervalMs: 100 });
  return { rotated, stillOpen: value ? [] : holders() };
}

/** Renames each file over maxBytes to NAME.1, shifting older ones, and adds it to `rotated` as soon as it is renamed. */
async function shiftLarge(options: RotateOptions, rotated: string[]): Promise<void> {
  for (const pattern of options.patterns) {
    for (const file of await matchingFiles(options.logsDir, pattern)) {
      const info = await lstat(file).catch(() => undefined);
      if (!info?.isFile() || info.size <= options.maxBytes) continue;
      // Shift the rotated files that exist, oldest first, dropping those past `keep`.
      const base = path.basename(file);
      const numbers = (await readdir(path.dirname(file)))
        .filter((name) => name.startsWith(`${base}.`) && /^\d+$/.test(name.slice(base.length + 1)))
        .map((name) => Number(name.slice(base.length + 1)))
        .sort((a, b) => b - a);
      for (const n of numbers) {
        if (n >= options.keep) await rm(`${file}.${n}`, { force: true });
        else await rename(`${file}.${n}`, `${file}.${n + 1}`);
      }
      await rename(file, `${file}.1`);
      rotated.push(file);
    }
  }
}

/** "10M", "512K", "2G", or bytes. */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+)([KMG]?)$/.exec(text.trim());
  if (!match) return undefined;
  const value = Number(match[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2] as '' | 'K' | 'M' | 'G'];
  return value > 0 ? value : undefined;
}
