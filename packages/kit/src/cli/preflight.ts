import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { errors, kitPackageRoot, type Reporter, type Settings } from '../core/index.cjs';
import { buildState, buildTried, switchTo, withReleasesLock } from '../deploy/index.js';

const NODE_NEEDED = [20, 10, 0] as const;

/** Node new enough for the kit (node:test concurrency, Astro 5's ^20.3). */
export function checkNode(version: string = process.versions.node): void {
  const parts = version.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const have = parts[i] ?? 0;
    const need = NODE_NEEDED[i] ?? 0;
    if (have > need) return;
    if (have < need) throw errors.nodeTooOld(version, NODE_NEEDED.join('.'));
  }
}

/** The packages a start needs are installed where Node will look for them. */
export function checkDependencies(settings: Settings): void {
  const needs: [string, string][] = [
    ['pm2', kitPackageRoot],
    ['astro', settings.siteRoot],
    ['@astrojs/node', settings.siteRoot],
  ];
  for (const [name, from] of needs) {
    try {
      createRequire(path.join(from, 'package.json')).resolve(`${name}/package.json`);
    } catch {
      throw errors.dependenciesMissing(`${name} (needed by ${from === kitPackageRoot ? 'the kit' : path.relative(settings.root, from) || 'the site'})`);
    }
  }
}

/**
 * Makes sure the current release is there and newer than the site's
 * sources (or an operator rolled back to it from a release that is); otherwise
 * builds a new release, tries it, and makes it current
 * (running workers keep theirs until the reload that follows); true when it
 * did. A SITE_DIR other than the releases' current link is someone else's
 * build: checked, never rebuilt.
 */
export async function ensureSiteBuild(settings: Settings, report: Reporter): Promise<boolean> {
  if (settings.siteDir !== settings.currentLink) {
    if (!existsSync(path.join(settings.siteDir, 'server', 'entry.mjs'))) throw errors.buildMissing(settings.siteDir);
    report.done(`using the site build in ${settings.siteDir}`);
    return false;
  }
  const state = await buildState(settings);
  if (state === 'fresh') {
    report.done('site build is up to date');
    return false;
  }
  if (state === 'rolled-back') {
    report.done('serving the release rolled back to (the sources are built in a newer one; astro-cluster deploy deploys them again)');
    return false;
  }
  report.warn(state === 'missing' ? 'no build of the site yet' : 'the site\'s sources changed since the last build');
  await withReleasesLock(settings, async () => switchTo(settings, await buildTried(settings, report), { reload: false }, report));
  return true;
}
