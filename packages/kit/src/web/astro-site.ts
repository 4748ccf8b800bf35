import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildInfoOf, errors, type BuildInfo } from '../core/index.cjs';
import type { Handler } from '../server/index.js';

export interface AstroSite {
  /** The adapter's standalone handler: static files from client/, then SSR. */
  handler: Handler;
  build: BuildInfo;
  /** The build's real folder (SITE_DIR may be a symlink that moves on). */
  dir: string;
  /** The folder holding it and the other releases, when it is one of bin/deploy's releases. */
  releasesDir: string | undefined;
}

/**
 * Imports an Astro build made with @astrojs/node in standalone mode, without
 * letting it start its own server: the kit owns listening and shutdown.
 */
export async function loadAstroSite(siteDir: string): Promise<AstroSite> {
  // Resolve the symlink once: build.json and the code must come from the same release even if a deploy switches it now.
  const dir = await realpath(siteDir).catch(() => siteDir);
  const entry = path.join(dir, 'server', 'entry.mjs');
  const build = await buildInfoOf(dir);
  process.env.ASTRO_NODE_AUTOSTART = 'disabled';
  const module = (await import(pathToFileURL(entry).href)) as { handler?: Handler; options?: { mode?: string } };
  // A middleware-mode handler serves SSR only: every static file would be a 404.
  if (module.options?.mode === 'middleware') throw errors.notStandaloneBuild(dir, 'it was built in middleware mode');
  if (typeof module.handler !== 'function') throw errors.notStandaloneBuild(dir, `${entry} exports no handler`);
  const releasesDir = path.basename(path.dirname(dir)) === 'releases' ? path.dirname(dir) : undefined;
  return { handler: module.handler, build, dir, releasesDir };
}
