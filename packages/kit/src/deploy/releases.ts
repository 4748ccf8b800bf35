import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, realpath, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { readBuildInfo, writeFileAtomic } from '../core/index.cjs';
import type { Release } from './build.js';
import { lastGoodFileOf, readLastGood } from './last-good.js';
import type { ReleasePaths } from './site-paths.js';

/** Every release on disk, oldest first. */
export async function listReleases({ releasesDir, historyFile }: ReleasePaths): Promise<Release[]> {
  const names = await readdir(releasesDir).catch(() => [] as string[]);
  const releases: Release[] = [];
  for (const name of names) {
    if (name.startsWith('.') || name === path.basename(historyFile)) continue;
    const dir = path.join(releasesDir, name);
    try {
      const info = await readBuildInfo(dir);
      releases.push({ ...info, dir });
    } catch {
      // Not a release (a half-removed one, say).
    }
  }
  return releases.sort((a, b) => a.builtAt.localeCompare(b.builtAt));
}

/** The release the current link points at; undefined while there is none. */
export async function currentRelease(paths: ReleasePaths): Promise<Release | undefined> {
  const { currentLink, releasesDir } = paths;
  const target = await realpath(currentLink).catch(() => undefined);
  if (!target || path.dirname(target) !== (await realpath(releasesDir).catch(() => releasesDir))) return undefined;
  return (await listReleases(paths)).find((release) => path.basename(release.dir) === path.basename(target));
}

/**
 * Makes a release current by replacing the current symlink in one rename:
 * a worker starting at any moment imports either the old release or the new
 * one, whole. Running workers keep the release they imported (its files stay).
 */
export async function activate(paths: ReleasePaths, release: Release): Promise<void> {
  const { currentLink } = paths;
  await mkdir(path.dirname(currentLink), { recursive: true });
  const temporary = `${currentLink}.${randomBytes(4).toString('hex')}.tmp`;
  await symlink(path.relative(path.dirname(currentLink), release.dir), temporary);
  await rename(temporary, currentLink).catch(async (error: unknown) => {
    await rm(temporary, { force: true });
    throw error;
  });
  await recordActivation(paths, release.id);
}

async function recordActivation(paths: ReleasePaths, id: string): Promise<void> {
  const history = await readHistory(paths);
  history.push({ id, activatedAt: new Date().toISOString() });
  await writeFileAtomic(paths.historyFile, `${JSON.stringify(history.slice(-50), null, 2)}\n`);
}

/** The release that was current before the current one, if it is still on disk. */
export async function previousRelease(paths: ReleasePaths): Promise<Release | undefined> {
  const current = await currentRelease(paths);
  const releases = await listReleases(paths);
  const history = await readHistory(paths);
  for (let i = history.length - 1; i >= 0; i--) {
    const entry = history[i]!;
    if (entry.id === current?.id) continue;
    const release = releases.find((candidate) => candidate.id === entry.id);
    if (release) return release;
  }
  return undefined;
}

/**
 * Removes the oldest releases beyond `keep`, never the current one, the
 * one before it, nor the last one a worker served (what a worker that cannot
 * load the current one falls back to). Pages rendered by old workers point at hashed assets of
 * their release, and old workers import page chunks from it lazily, so a few
 * are kept rather than only the current.
 */
export async function pruneReleases(paths: ReleasePaths, keep: number): Promise<string[]> {
  const current = await currentRelease(paths);
  const previous = await previousRelease(paths);
  const lastGood = await readLastGood(lastGoodFileOf(paths.releasesDir));
  const releases = await listReleases(paths);
  const kept = new Set([current?.id, previous?.id, lastGood?.id]);
  const removable = releases.filter((release) => !kept.has(release.id));
  const excess = releases.length - keep;
  const removed: string[] = [];
  for (const release of removable.slice(0, Math.max(0, excess))) {
    await rm(release.dir, { recursive: true, force: true });
    removed.push(release.id);
  }
  return removed;
}

/** Removes one release that never became current (a build that failed its trial). */
export async function discardRelease(paths: ReleasePaths, release: Release): Promise<void> {
  if ((await currentRelease(paths))?.id === release.id) throw new Error(`release ${release.id} is current`);
  await rm(release.dir, { recursive: true, force: true });
}

async function readHistory({ historyFile }: ReleasePaths): Promise<{ id: string; activatedAt: string }[]> {
  try {
    return JSON.parse(await readFile(historyFile, 'utf8')) as { id: string; activatedAt: string }[];
  } catch {
    return [];
  }
}
