import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';

/**
 * The release a worker last loaded and served, kept in `last-good` beside
 * the releases folder (and the `current` link). A worker that cannot load
 * SITE_DIR serves it instead, so a `pm2 reload` onto a broken or missing
 * build never leaves the site without workers: PM2 retires the old workers
 * even when the new ones fail.
 */
export interface LastGood {
  id: string;
  /** The release's folder, absolute. */
  dir: string;
  servedAt: string;
}

const fileName = 'last-good';

/** Where a release of `releasesDir` is recorded. */
export function lastGoodFileOf(releasesDir: string): string {
  return path.join(path.dirname(releasesDir), fileName);
}

/**
 * The record that belongs with SITE_DIR, found without loading it: beside
 * the releases folder its target sits in, else beside SITE_DIR itself when a
 * `releases` folder is there too (a dangling `current` link). Undefined for a
 * build outside any releases folder (a plain `astro build`).
 */
export async function lastGoodFileFor(siteDir: string): Promise<string | undefined> {
  const real = await realpath(siteDir).catch(() => undefined);
  if (real && path.basename(path.dirname(real)) === 'releases') return lastGoodFileOf(path.dirname(real));
  const beside = path.dirname(path.resolve(siteDir));
  const releases = await realpath(path.join(beside, 'releases')).catch(() => undefined);
  return releases ? lastGoodFileOf(releases) : undefined;
}

export async function readLastGood(file: string): Promise<LastGood | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseLastGood(() => text);
}

function parseLastGood(read: () => string): LastGood | undefined {
  try {
    const record = JSON.parse(read()) as Partial<LastGood>;
    return typeof record.id === 'string' && typeof record.dir === 'string' ? { id: record.id, dir: record.dir, servedAt: String(record.servedAt) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Records a release that loaded and serves; an unchanged record is not
 * rewritten (every worker start calls this). Synchronous on purpose: a
 * worker told to stop right after `ready` exits between two awaits, which
 * would leave the temporary file behind; a few hundred bytes written and
 * renamed in one go cannot be cut in half.
 */
export function recordLastGood(releasesDir: string, release: { id: string; dir: string }): void {
  const file = lastGoodFileOf(releasesDir);
  const known = parseLastGood(() => readFileSync(file, 'utf8'));
  if (known?.id === release.id && known.dir === release.dir) return;
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(temporary, `${JSON.stringify({ id: release.id, dir: release.dir, servedAt: new Date().toISOString() }, null, 2)}\n`);
    renameSync(temporary, file);
  } finally {
    rmSync(temporary, { force: true });
  }
}
