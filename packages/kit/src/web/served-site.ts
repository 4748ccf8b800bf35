import { realpath } from 'node:fs/promises';
import { buildInfoOf, isKitError, type Settings } from '../core/index.cjs';
import { lastGoodFileFor, readLastGood } from '../deploy/last-good.js';
import { loadAstroSite, type AstroSite } from './astro-site.js';

/** Why a worker serves another release than SITE_DIR's. */
export interface Degraded {
  /** The build SITE_DIR holds (its id, else its folder): what the worker should serve. */
  wanted: string;
  /** Why it could not be loaded. */
  reason: string;
}

/**
 * The site this worker serves: SITE_DIR's build, or, when that cannot be
 * loaded (missing, throwing on import, not standalone), the last release a
 * worker served, marked degraded. PM2 has no rollback: during a reload it
 * retires the old workers even when the new ones fail, and a plain
 * `pm2 reload` from a shell without the kit's environment never tries the
 * build first. Serving the last good release keeps the site up and says so
 * (health, status, audit) instead.
 */
export async function loadServedSite(settings: Pick<Settings, 'siteDir' | 'siteFallback'>): Promise<{ site: AstroSite; degraded?: Degraded }> {
  try {
    return { site: await loadAstroSite(settings.siteDir) };
  } catch (error) {
    if (!settings.siteFallback) throw error;
    const file = await lastGoodFileFor(settings.siteDir);
    const lastGood = file ? await readLastGood(file) : undefined;
    const wantedDir = await realpath(settings.siteDir).catch(() => settings.siteDir);
    // Nothing served before, or the broken build is that very release: fail as without a fallback.
    if (!lastGood || lastGood.dir === wantedDir) throw error;
    let site: AstroSite;
    try {
      site = await loadAstroSite(lastGood.dir);
    } catch {
      throw error;
    }
    const wanted = (await buildInfoOf(wantedDir).catch(() => undefined))?.id ?? wantedDir;
    return { site, degraded: { wanted, reason: reasonOf(error) } };
  }
}

function reasonOf(error: unknown): string {
  const message = isKitError(error) || error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}
