import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { buildSite, buildState, defaultSiteDir, siteRoot } from '@kit/cluster';
import { errors, kitRoot, type Reporter, type Settings } from '@kit/core';

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
 * Makes sure the site build is there and newer than its sources, building it
 * when not. A SITE_DIR outside apps/site/dist is someone else's build: it is
 * checked, never rebuilt.
 */
export async function ensureSiteBuild(settings: Settings, report: Reporter): Promise<void> {
  if (settings.siteDir !== defaultSiteDir) {
    if (!existsSync(path.join(settings.siteDir, 'server', 'entry.mjs'))) throw errors.buildMissing(settings.siteDir);
    return report.done(`using the site build in ${settings.siteDir}`);
  }
  const state = await buildState(settings.siteDir);
  if (state === 'fresh') return report.done('site build is up to date');
  report.step(state === 'missing' ? 'building the site (no build yet)' : 'building the site (sources changed since the last build)');
  const started = Date.now();
  await buildSite(report);
  report.done(`site built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
