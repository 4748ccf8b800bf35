import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';
import { errors, type BuildInfo, type Reporter, type Settings } from '../core/index.cjs';
import { ignoredFolders, siteInputs } from './inputs.js';
import { listReleases } from './releases.js';
import { releasePaths } from './site-paths.js';

/**
 * fresh: the current build is newer than every source file. rolled-back: it
 * is not, but a newer release is (an operator rolled back from it on
 * purpose). stale: the sources changed since the newest release. missing: no
 * build at all.
 */
export type BuildState = 'fresh' | 'rolled-back' | 'stale' | 'missing';

/**
 * Whether the current release is older than the site's sources. Compared
 * with the newest release, not only the current one: after a rollback the
 * current release is older than the sources on purpose, and a start (at
 * boot, say) must not build the rolled-back code back in.
 */
export async function buildState(settings: Settings): Promise<BuildState> {
  const built = await mtimeOf(path.join(settings.currentLink, 'build.json'));
  if (built === undefined) return 'missing';
  const ignored = ignoredFolders(settings);
  const newestSource = Math.max(0, ...(await Promise.all((await siteInputs(settings)).map((entry) => newestMtime(entry, ignored)))));
  if (newestSource <= built) return 'fresh';
  const releases = await Promise.all((await listReleases(releasePaths(settings))).map((release) => mtimeOf(path.join(release.dir, 'build.json'))));
  return releases.some((time) => time !== undefined && time >= newestSource) ? 'rolled-back' : 'stale';
}

async function mtimeOf(file: string): Promise<number | undefined> {
  return stat(file).then((info) => info.mtimeMs, () => undefined);
}

export interface Release extends BuildInfo {
  dir: string;
}

/**
 * Runs the site's own build (site.build, by default its `build` script),
 * then takes what it wrote to site.outDir into a release of the kit's own:
 * copied to a temporary folder beside the releases, given a build id and
 * time, and renamed to releases/<build id>. The site's outDir is never
 * served, so an `astro build` run by hand cannot touch what runs.
 */
export async function buildRelease(settings: Settings, report: Reporter): Promise<Release> {
  const { releasesDir } = releasePaths(settings);
  const building = path.join(releasesDir, `.building-${randomBytes(4).toString('hex')}`);
  try {
    const started = new Date();
    await runSiteBuild(settings, report);
    await checkBuildOutput(settings.siteOutDir);
    await cp(settings.siteOutDir, building, { recursive: true, verbatimSymlinks: true });
    const info: BuildInfo = {
      id: `${started.toISOString().replace(/[-:]|\.\d+/g, '')}-${randomBytes(3).toString('hex')}`,
      builtAt: new Date().toISOString(),
      astro: astroVersion(settings.siteRoot),
    };
    await writeFile(path.join(building, 'build.json'), `${JSON.stringify(info, null, 2)}\n`);
    const dir = path.join(releasesDir, info.id);
    await rename(building, dir);
    return { ...info, dir };
  } finally {
    await rm(building, { recursive: true, force: true });
  }
}

/** The command that builds the site: site.build, or its package.json `build` script, or `astro build`. */
export async function buildCommand(settings: Settings): Promise<string> {
  if (settings.siteBuild) return settings.siteBuild;
  const manifest = JSON.parse(await readFile(path.join(settings.siteRoot, 'package.json'), 'utf8').catch(() => '{}')) as { scripts?: Record<string, string> };
  return manifest.scripts?.build ? 'pnpm run build' : 'astro build';
}

async function runSiteBuild(settings: Settings, report: Reporter): Promise<void> {
  const command = await buildCommand(settings);
  report.output(`$ ${command}  (in ${path.relative(settings.root, settings.siteRoot) || '.'})`);
  const bins = [path.join(settings.siteRoot, 'node_modules', '.bin'), path.join(settings.root, 'node_modules', '.bin')];
  const child = spawn('/bin/sh', ['-c', command], {
    cwd: settings.siteRoot,
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', PATH: [...bins, process.env.PATH ?? ''].join(path.delimiter) },
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
  if (code !== 0) throw errors.buildFailed('the site', [`(${command} in ${settings.siteRoot})`, ...recent].join('\n'));
}

/**
 * The build must have written a server entry where site.outDir says. Whether
 * it is standalone is checked by the trial worker, which imports it as every
 * worker will (a middleware-mode build is refused there by its `options`).
 */
async function checkBuildOutput(outDir: string): Promise<void> {
  if (!(await stat(path.join(outDir, 'server', 'entry.mjs')).catch(() => undefined))) {
    throw errors.notStandaloneBuild(outDir, 'the build wrote no server/entry.mjs there (is site.outDir the outDir of the site\'s astro config?)');
  }
}

/** The Astro version the site builds with, as installed for it. */
export function astroVersion(siteRoot: string): string | undefined {
  try {
    const file = createRequire(path.join(siteRoot, 'package.json')).resolve('astro/package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

async function newestMtime(entry: string, ignored: (dir: string, name: string) => boolean): Promise<number> {
  let info;
  try {
    info = await stat(entry);
  } catch {
    return 0;
  }
  if (!info.isDirectory()) return info.mtimeMs;
  const children = (await readdir(entry).catch(() => [] as string[])).filter((child) => !ignored(entry, child));
  return Math.max(info.mtimeMs, ...(await Promise.all(children.map((child) => newestMtime(path.join(entry, child), ignored)))));
}
