import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { errors, kitRoot, type Reporter, type Settings } from '@kit/core';
import { buildState, buildTried, currentLink, siteRoot, switchTo, withReleasesLock } from '@kit/deploy';

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
export function checkDependencies(): void {
  const needs: [string, string][] = [
    ['pm2', kitRoot],
    ['astro', siteRoot],
    ['@astrojs/node', siteRoot],
  ];
  for (const [name, from] of needs) {
    try {
      createRequire(path.join(from, 'package.json')).resolve(`${name}/package.json`);
    } catch {
      throw errors.dependenciesMissing(`${name} (needed by ${path.relative(kitRoot, from) || 'the kit'})`);
    }
  }
}

/**
 * Makes sure the current release is there and newer than the site's
 * sources (or an operator rolled back to it from a release that is); otherwise
 * builds a new release, tries it, and makes it current
 * (running workers keep theirs until the reload that follows); true when it
 * did. A SITE_DIR outside apps/site/dist is someone else's build: checked,
 * never rebuilt.
 */
export async function ensureSiteBuild(settings: Settings, report: Reporter): Promise<boolean> {
  if (settings.siteDir !== currentLink) {
    if (!existsSync(path.join(settings.siteDir, 'server', 'entry.mjs'))) throw errors.buildMissing(settings.siteDir);
    report.done(`using the site build in ${settings.siteDir}`);
    return false;
  }
  const state = await buildState(settings.siteDir);
  if (state === 'fresh') {
    report.done('site build is up to date');
    return false;
  }
  if (state === 'rolled-back') {
    report.done('serving the release rolled back to (the sources are built in a newer one; ./bin/deploy deploys them again)');
    return false;
  }
  report.warn(state === 'missing' ? 'no build of the site yet' : 'the site\'s sources changed since the last build');
  await withReleasesLock(async () => switchTo(settings, await buildTried(settings, report), { reload: false }, report));
  return true;
}
