import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { errors } from '@kit/core';
import type { Handler } from '@kit/server';

export interface BuildInfo {
  id: string;
  builtAt: string;
}

export interface AstroSite {
  /** The adapter's standalone handler: static files from client/, then SSR. */
  handler: Handler;
  build: BuildInfo;
}

/**
 * Imports an Astro build made with @astrojs/node in standalone mode, without
 * letting it start its own server: the kit owns listening and shutdown.
 */
export async function loadAstroSite(siteDir: string): Promise<AstroSite> {
  const entry = path.join(siteDir, 'server', 'entry.mjs');
  const build = await readBuildInfo(siteDir);
  process.env.ASTRO_NODE_AUTOSTART = 'disabled';
  const module = (await import(pathToFileURL(entry).href)) as { handler?: Handler };
  if (typeof module.handler !== 'function') {
    throw new Error(`${entry} exports no handler: build the site with @astrojs/node in standalone mode`);
  }
  return { handler: module.handler, build };
}

export async function readBuildInfo(siteDir: string): Promise<BuildInfo> {
  try {
    const info = JSON.parse(await readFile(path.join(siteDir, 'build.json'), 'utf8')) as Partial<BuildInfo>;
    if (typeof info.id !== 'string' || typeof info.builtAt !== 'string') throw new Error('build.json lacks id or builtAt');
    return { id: info.id, builtAt: info.builtAt };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw errors.buildMissing(siteDir);
    throw error;
  }
}
