import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The installed kit package (dist/core/paths.cjs is two levels below it).
 * Empty inside a site's bundle (Vite bundles a linked workspace package into
 * ESM chunks, where __dirname does not exist); nothing there needs it.
 */
export const kitPackageRoot = typeof __dirname === 'string' ? path.resolve(__dirname, '..', '..') : '';

/** The file that marks a project using the kit, at its root. */
export const configFileName = 'astro-cluster.config.json';

/**
 * The root of the project the kit runs for: ASTRO_CLUSTER_ROOT, or the
 * nearest folder from `cwd` up that holds astro-cluster.config.json, or `cwd`.
 */
export function projectRoot(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  if (env.ASTRO_CLUSTER_ROOT?.trim()) return path.resolve(cwd, env.ASTRO_CLUSTER_ROOT.trim());
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, configFileName))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(cwd);
  }
}

/** Where PM2 keeps its daemon files, as PM2 itself resolves it. */
export function pm2Home(env: NodeJS.ProcessEnv = process.env): string {
  return env.PM2_HOME ? path.resolve(env.PM2_HOME) : path.join(os.homedir(), '.pm2');
}

/** Files the kit writes under LOGS_DIR, named in one place. */
export function logPaths(logsDir: string) {
  return {
    pm2: path.join(logsDir, 'pm2'),
    pm2Pids: path.join(logsDir, 'pm2', 'pids'),
    agents: path.join(logsDir, 'agents'),
    run: path.join(logsDir, 'run'),
    // Folders of their own, which no other tool writes: an app's own launcher may keep its locks in run/locks.
    locks: path.join(logsDir, 'run', 'kit-locks'),
    agentState: path.join(logsDir, 'run', 'kit-state'),
    events: path.join(logsDir, 'run', 'events'),
    bench: path.join(logsDir, 'bench'),
  };
}

/** PM2's log files for an app started by the kit (merged over all instances). */
export function appLogFiles(logsDir: string, app: string) {
  const dir = logPaths(logsDir).pm2;
  return { out: path.join(dir, `${app}-out.log`), error: path.join(dir, `${app}-error.log`) };
}
