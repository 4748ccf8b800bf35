import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, realpath, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { readBuildInfo, writeFileAtomic } from '@kit/core';
import type { Release } from './build.js';
import { currentLink, historyFile, releasesDir, siteRoot } from './site-paths.js';

/** Every release on disk, oldest first. */
export async function listReleases(): Promise<Release[]> {
  const names = await readdir(releasesDir).catch(() => [] as string[]);
  const releases: Release[] = [];
  for (const name of names) {
    if (name.startsWith('.') || name === path.basename(historyFile)) continue;
    const dir = path.join(releasesDir, name);
    try {
      const info = await readBuildInfo(dir);
      releases.push({ id: info.id, dir, builtAt: info.builtAt });
    } catch {
      // Not a release (a half-removed one, say).
    }
  }
  return releases.sort((a, b) => a.builtAt.localeCompare(b.builtAt));
}

/** The release `dist` points at; undefined while there is none (or dist is still a plain build folder). */
export async function currentRelease(): Promise<Release | undefined> {
  const target = await realpath(currentLink).catch(() => undefined);
  if (!target || path.dirname(target) !== (await realpath(releasesDir).catch(() => releasesDir))) return undefined;
  return (await listReleases()).find((release) => path.basename(release.dir) === path.basename(target));
}

/**
 * Makes a release current by replacing the `dist` symlink in one rename:
 * a worker starting at any moment imports either the old release or the new
 * one, whole. Running workers keep the release they imported (its files stay).
 */
export async function activate(release: Release): Promise<void> {
  await adoptPlainBuild();
  const temporary = `${currentLink}.${randomBytes(4).toString('hex')}.tmp`;
  await symlink(path.relative(siteRoot, release.dir), temporary);
  await rename(temporary, currentLink).catch(async (error: unknown) => {
    await rm(temporary, { force: true });
    throw error;
  });
  await recordActivation(release.id);
}

async function recordActivation(id: string): Promise<void> {
  const history = await readHistory();
  history.push({ id, activatedAt: new Date().toISOString() });
  await writeFileAtomic(historyFile, `${JSON.stringify(history.slice(-50), null, 2)}\n`);
}

/** The release that was current before the current one, if it is still on disk. */
export async function previousRelease(): Promise<Release | undefined> {
  const current = await currentRelease();
  const releases = await listReleases();
  const history = await readHistory();
  for (let i = history.length - 1; i >= 0; i--) {
    const entry = history[i]!;
    if (entry.id === current?.id) continue;
    const release = releases.find((candidate) => candidate.id === entry.id);
    if (release) return release;
  }
  return undefined;
}

/**
 * Removes the oldest releases beyond `keep`, never the current one nor the
 * one before it. Pages rendered by old workers point at hashed assets of
 * their release, and old workers import page chunks from it lazily, so a few
 * are kept rather than only the current.
 */
export async function pruneReleases(keep: number): Promise<string[]> {
  const current = await currentRelease();
  const previous = await previousRelease();
  const releases = await listReleases();
  const removable = releases.filter((release) => release.id !== current?.id && release.id !== previous?.id);
  const excess = releases.length - keep;
  const removed: string[] = [];
  for (const release of removable.slice(0, Math.max(0, excess))) {
    await rm(release.dir, { recursive: true, force: true });
    removed.push(release.id);
  }
  return removed;
}

/** Removes one release that never became current (a build that failed its trial). */
export async function discardRelease(release: Release): Promise<void> {
  if ((await currentRelease())?.id === release.id) throw new Error(`release ${release.id} is current`);
  await rm(release.dir, { recursive: true, force: true });
}

/**
 * A `dist` that is a plain folder (a build from before releases, or a bare
 * `astro build`) becomes the first release: moved under releases/, linked
 * back so that paths running workers imported still resolve, and recorded
 * as current so that a rollback can return to it.
 */
export async function adoptPlainBuild(): Promise<void> {
  const info = await lstat(currentLink).catch(() => undefined);
  if (!info || info.isSymbolicLink() || !info.isDirectory()) return;
  await mkdir(releasesDir, { recursive: true });
  const id = await readBuildInfo(currentLink).then((info) => info.id, () => `adopted-${Date.now()}`);
  const dir = path.join(releasesDir, id);
  await rename(currentLink, dir);
  await symlink(path.relative(siteRoot, dir), currentLink);
  await recordActivation(id);
}

async function readHistory(): Promise<{ id: string; activatedAt: string }[]> {
  try {
    return JSON.parse(await readFile(historyFile, 'utf8')) as { id: string; activatedAt: string }[];
  } catch {
    return [];
  }
}
