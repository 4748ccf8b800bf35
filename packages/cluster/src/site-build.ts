import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';
import { errors, kitRoot, type Reporter } from '@kit/core';

export const siteRoot = path.join(kitRoot, 'apps', 'site');
export const defaultSiteDir = path.join(siteRoot, 'dist');

/** What the build of the site depends on: a change to any of these calls for a new build. */
const sources = ['src', 'public', 'integrations', 'astro.config.ts', 'package.json'];

export type BuildState = 'fresh' | 'stale' | 'missing';

/** Whether siteDir holds a build newer than every source file of the site. */
export async function buildState(siteDir: string): Promise<BuildState> {
  let built: number;
  try {
    built = (await stat(path.join(siteDir, 'build.json'))).mtimeMs;
  } catch {
    return 'missing';
  }
  const newest = Math.max(...(await Promise.all(sources.map((entry) => newestMtime(path.join(siteRoot, entry))))));
  return newest > built ? 'stale' : 'fresh';
}

/** Runs `astro build` for apps/site, passing its output on line by line. */
export async function buildSite(report: Reporter, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const astro = path.join(path.dirname(createRequire(path.join(siteRoot, 'package.json')).resolve('astro/package.json')), 'astro.js');
  const child = spawn(process.execPath, [astro, 'build'], { cwd: siteRoot, env: { ...env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
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
