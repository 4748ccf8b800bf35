import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { errors } from '../../core/index.cjs';
import { dependsOn, readPackageFile, type PackageJson } from './package-json.js';

export interface Site {
  /** The app's folder. */
  dir: string;
  /** That folder relative to the project root, with "/" (site.dir); "." for the root itself. */
  relative: string;
  packageJson: PackageJson;
}

/**
 * The project's Astro app: `explicit` (--site) when given; else the one
 * folder of apps/* whose package.json depends on astro (among several, the
 * one that also depends on @astrojs/node); else the root itself.
 */
export async function findSite(root: string, explicit?: string): Promise<Site> {
  if (explicit !== undefined) {
    const dir = path.resolve(root, explicit);
    const pkg = await readPackageFile(path.join(dir, 'package.json'), root);
    if (!pkg) throw errors.notAstroProject(root, `--site ${explicit} has no package.json`);
    if (!dependsOn(pkg.json, 'astro')) throw errors.notAstroProject(root, `${relativeTo(root, dir)}/package.json does not depend on astro`);
    return { dir, relative: relativeTo(root, dir), packageJson: pkg.json };
  }

  const apps = await astroApps(root);
  if (apps.length > 1) {
    const withNode = apps.filter((app) => dependsOn(app.packageJson, '@astrojs/node'));
    if (withNode.length !== 1) throw errors.siteAmbiguous((withNode.length > 1 ? withNode : apps).map((app) => app.relative));
    return withNode[0]!;
  }
  if (apps.length === 1) return apps[0]!;

  const pkg = await readPackageFile(path.join(root, 'package.json'), root);
  if (!pkg || !dependsOn(pkg.json, 'astro')) throw errors.notAstroProject(root, 'no package.json in apps/* or at the root depends on astro');
  return { dir: root, relative: '.', packageJson: pkg.json };
}

/** The folders of apps/* whose package.json depends on astro, by name. */
async function astroApps(root: string): Promise<Site[]> {
  const appsDir = path.join(root, 'apps');
  const entries = await readdir(appsDir, { withFileTypes: true }).catch(() => []);
  const sites: Site[] = [];
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const dir = path.join(appsDir, entry.name);
    const pkg = await readPackageFile(path.join(dir, 'package.json'), root);
    if (pkg && dependsOn(pkg.json, 'astro')) sites.push({ dir, relative: relativeTo(root, dir), packageJson: pkg.json });
  }
  return sites;
}

function relativeTo(root: string, dir: string): string {
  return path.relative(root, dir).split(path.sep).join('/') || '.';
}
