import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { describe, errors, type Reporter, type Settings } from '../core/index.cjs';
import { reloadWeb, tryWorker, type WebState } from '../cluster/index.js';
import { buildRelease, type Release } from './build.js';
import { activate, currentRelease, discardRelease, previousRelease, pruneReleases } from './releases.js';
import { releasePaths } from './site-paths.js';

export interface DeployResult {
  release: Release;
  previous: Release | undefined;
  /** The reloaded cluster; undefined when it was not running (the release is current for its next start). */
  web: WebState | undefined;
  pruned: string[];
}

/**
 * Builds the site into a new release, tries it in a trial worker, makes it
 * current with one rename, reloads the cluster worker by worker and waits
 * until every worker serves it. Until the switch nothing that runs is
 * touched: a failed build or trial leaves the current release serving.
 */
export async function deploy(settings: Settings, options: { reload: boolean }, report: Reporter): Promise<DeployResult> {
  if (settings.siteDir !== settings.currentLink) throw errors.siteDirOverridden(settings.siteDir);
  return withReleasesLock(settings, async () => switchTo(settings, await buildTried(settings, report), options, report));
}

/** Builds a release and tries it; bin/start-pm2 then makes it current and starts or reloads with it. */
export async function buildTried(settings: Settings, report: Reporter): Promise<Release> {
  report.step('building a new release of the site');
  const started = Date.now();
  const release = await buildRelease(settings, report);
  report.done(`built release ${release.id} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await trial(settings, release, report);
  return release;
}

/** Makes the release that was current before this one current again, the same way. */
export async function rollback(settings: Settings, options: { reload: boolean }, report: Reporter): Promise<DeployResult> {
  if (settings.siteDir !== settings.currentLink) throw errors.siteDirOverridden(settings.siteDir);
  return withReleasesLock(settings, async () => {
    const previous = await previousRelease(releasePaths(settings));
    if (!previous) throw errors.noPreviousRelease();
    report.step(`rolling back to release ${previous.id}`);
    await trial(settings, previous, report, false);
    // It served before: a reload that fails on it now does not make it worthless.
    return switchTo(settings, previous, { ...options, keepOnFailure: true }, report);
  });
}

/**
 * One build or switch of releases at a time: a second deploy (or a start-pm2
 * rebuilding) could otherwise prune the release the first is still trying.
 */
export async function withReleasesLock<T>({ releasesDir }: Pick<Settings, 'releasesDir'>, body: () => Promise<T>): Promise<T> {
  await mkdir(releasesDir, { recursive: true });
  const lock = path.join(releasesDir, '.deploy.lock');
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(releasesDir, { lockfilePath: lock, realpath: false, stale: 60_000, onCompromised: () => undefined });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') throw errors.deployRunning(lock);
    throw error;
  }
  try {
    return await body();
  } finally {
    await release().catch(() => undefined);
  }
}

export async function trial(settings: Settings, release: Release, report: Reporter, discardOnFailure = true): Promise<void> {
  report.step(`trying release ${release.id} in a trial worker`);
  try {
    const result = await tryWorker({ ...settings, siteDir: release.dir });
    report.done(`trial worker served release ${result.build} after ${result.startMs} ms`);
  } catch (error) {
    if (discardOnFailure) await discardRelease(releasePaths(settings), release);
    throw errors.releaseNotReady(release.id, describe(error));
  }
}

/**
 * Makes `release` current and, with `reload`, reloads the cluster onto it.
 * When the cluster does not become healthy on it, the previous release is made
 * current and reloaded again, and `release` is discarded (unless
 * `keepOnFailure`) so that a later --rollback cannot pick it.
 */
export async function switchTo(settings: Settings, release: Release, options: { reload: boolean; keepOnFailure?: boolean }, report: Reporter): Promise<DeployResult> {
  const paths = releasePaths(settings);
  const previous = await currentRelease(paths);
  await activate(paths, release);
  report.done(`release ${release.id} is current${previous ? ` (was ${previous.id})` : ''}`);
  let web: WebState | undefined;
  if (options.reload) {
    try {
      web = await reloadWeb(settings, release.id, report);
    } catch (error) {
      if (!previous) throw error;
      // PM2 keeps no old workers to fall back on: switch back and reload again.
      report.warn(`the cluster did not become healthy on ${release.id}: switching back to ${previous.id}`);
      await activate(paths, previous);
      // Only once every worker is back on the previous release can the failed one go.
      const back = await reloadWeb(settings, previous.id, report).then(() => true, () => false);
      if (back && !options.keepOnFailure) await discardRelease(paths, release).catch(() => undefined);
      throw errors.rolledBack(release.id, previous.id, describe(error));
    }
    if (!web) report.warn('the web cluster is not running: the release will be served by the next start');
  }
  const pruned = await pruneReleases(paths, settings.releasesKeep);
  if (pruned.length > 0) report.done(`removed ${pruned.length} old release(s), keeping ${settings.releasesKeep}`);
  return { release, previous, web, pruned };
}
