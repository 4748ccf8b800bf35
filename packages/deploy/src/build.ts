import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';
import { errors, readBuildInfo, type Reporter } from '@kit/core';
import { listReleases } from './releases.js';
import { releasesDir, siteRoot } from './site-paths.js';

/** What the build of the site depends on: a change to any of these calls for a new build. */
const sources = ['src', 'public', 'integrations', 'astro.config.ts', 'package.json'];

/**
 * fresh: the current build is newer than every source file. rolled-back: it
 * is not, but a newer release is (an operator rolled back from it on
 * purpose). stale: the sources changed since the newest release. missing: no
 * build at all.
 */
export type BuildState = 'fresh' | 'rolled-back' | 'stale' | 'missing';

/**
 * Whether siteDir's build is older than the site's sources. Compared with the
 * newest release, not only the current one: after a rollback the current
 * release is older than the sources on purpose, and bin/start-pm2 (at boot,
 * say) must not build the rolled-back code back in.
 */
export async function buildState(siteDir: string): Promise<BuildState> {
  const built = await mtimeOf(path.join(siteDir, 'build.json'));
  if (built === undefined) return 'missing';
  const newestSource = Math.max(...(await Promise.all(sources.map((entry) => newestMtime(path.join(siteRoot, entry))))));
  if (newestSource <= built) return 'fresh';
  const releases = await Promise.all((await listReleases()).map((release) => mtimeOf(path.join(release.dir, 'build.json'))));
  return releases.some((time) => time !== undefined && time >= newestSource) ? 'rolled-back' : 'stale';
}

async function mtimeOf(file: string): Promise<number | undefined> {
  return stat(file).then((info) => info.mtimeMs, () => undefined);
}

export interface Release {
  id: string;
  dir: string;
  builtAt: string;
}

/**
 * Runs `astro build` into a new release folder, passing its output on line
 * by line. Nothing that runs is touched: the build goes to a temporary
 * folder, renamed to releases/<build id> once it succeeded, and removed if
 * it failed.
 */
export async function buildRelease(report: Reporter): Promise<Release> {
  const building = path.join(releasesDir, `.building-${randomBytes(4).toString('hex')}`);
  try {
    await runAstroBuild(building, report);
    const info = await readBuildInfo(building);
    const dir = path.join(releasesDir, info.id);
    await rename(building, dir);
    return { id: info.id, dir, builtAt: info.builtAt };
  } finally {
    await rm(building, { recursive: true, force: true });
  }
}

async function runAstroBuild(outDir: string, report: Reporter): Promise<void> {
  const astro = path.join(path.dirname(createRequire(path.join(siteRoot, 'package.json')).resolve('astro/package.json')), 'astro.js');
  const child = spawn(process.execPath, [astro, 'build'], {
    cwd: siteRoot,
    // astro.config.ts reads SITE_OUT_DIR: each build gets a folder of its own.
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', SITE_OUT_DIR: outDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const recent: string[] = [];
  const collect = (line: string) => {
    report.output(line);
    recent.push(line);
    if (recent.length > 30) recent.shift();
  };
  readline.createInterface({ input: child.stdout }).on('line', collect);
  readline.createInterface({ input: child.stderr }).on('line', collect);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw errors.buildFailed('the site', recent.join('\n'));
}

async function newestMtime(entry: string): Promise<number> {
  let info;
  try {
    info = await stat(entry);
  } catch {
    return 0;
  }
  if (!info.isDirectory()) return info.mtimeMs;
  const children = await readdir(entry);
  return Math.max(info.mtimeMs, ...(await Promise.all(children.map((child) => newestMtime(path.join(entry, child))))));
}
