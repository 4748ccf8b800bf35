import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { errors } from './errors.cjs';

/** What the kit records beside every release it makes (build.json). */
export interface BuildInfo {
  id: string;
  builtAt: string;
  /** The Astro version the site was built with. */
  astro?: string | undefined;
}

export async function readBuildInfo(siteDir: string): Promise<BuildInfo> {
  try {
    const info = JSON.parse(await readFile(path.join(siteDir, 'build.json'), 'utf8')) as Partial<BuildInfo>;
    if (typeof info.id !== 'string' || typeof info.builtAt !== 'string') throw new Error('build.json lacks id or builtAt');
    return { id: info.id, builtAt: info.builtAt, ...(typeof info.astro === 'string' && { astro: info.astro }) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw errors.buildMissing(siteDir);
    throw error;
  }
}

/**
 * The build info of any standalone build: its build.json when the kit made
 * it, else one derived from server/entry.mjs (a plain `astro build` served
 * through SITE_DIR), so that such a build needs nothing written by hand.
 */
export async function buildInfoOf(siteDir: string): Promise<BuildInfo> {
  try {
    return await readBuildInfo(siteDir);
  } catch (error) {
    const entry = await stat(path.join(siteDir, 'server', 'entry.mjs')).catch(() => undefined);
    if (!entry) throw error;
    const builtAt = entry.mtime.toISOString();
    return { id: `unreleased-${builtAt.replace(/[-:]|\.\d+/g, '')}`, builtAt };
  }
}
