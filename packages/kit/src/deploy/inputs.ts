import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Settings } from '../core/index.cjs';

/**
 * What the site's build depends on: site.inputs when the config names them,
 * else the site's folder and every workspace package it depends on (any
 * dependency that resolves to a folder of this repo outside node_modules),
 * whatever their files are called (astro.config.mjs as well as .ts).
 */
export async function siteInputs(settings: Pick<Settings, 'root' | 'siteRoot' | 'siteInputs'>): Promise<string[]> {
  if (settings.siteInputs) return settings.siteInputs;
  const inputs = [settings.siteRoot];
  let manifest: { dependencies?: Record<string, string>; devDependencies?: Record<string, string> } = {};
  try {
    manifest = JSON.parse(await readFile(path.join(settings.siteRoot, 'package.json'), 'utf8'));
  } catch {
    return inputs;
  }
  for (const name of Object.keys({ ...manifest.dependencies, ...manifest.devDependencies })) {
    const dir = await realpath(path.join(settings.siteRoot, 'node_modules', name)).catch(() => undefined);
    if (!dir) continue;
    const relative = path.relative(settings.root, dir);
    if (relative.startsWith('..') || path.isAbsolute(relative) || relative.split(path.sep).includes('node_modules')) continue;
    if (!inputs.some((input) => dir === input || dir.startsWith(`${input}${path.sep}`))) inputs.push(dir);
  }
  return inputs;
}

/** Folders never counted as sources: dependencies, build output, caches, what the kit writes. */
export function ignoredFolders(settings: Pick<Settings, 'siteOutDir' | 'logsDir' | 'releasesDir'>): (dir: string, name: string) => boolean {
  const paths = new Set([settings.siteOutDir, settings.logsDir, path.dirname(settings.releasesDir), settings.releasesDir]);
  const names = new Set(['node_modules', 'dist', '.astro', '.git', '.astro-cluster', 'logs']);
  return (dir, name) => names.has(name) || paths.has(path.join(dir, name));
}
