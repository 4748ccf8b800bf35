import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Settings } from '../core/index.cjs';
import { inspectLock, lockPaths } from './lock.js';
import { supervisorName } from './registry.js';
import { readDesired, stateFiles } from './state-files.js';

const supervisorScript = fileURLToPath(new URL('./supervisor-main.js', import.meta.url));

/**
 * Starts a supervisor process, detached so that it outlives whoever started
 * it. It takes its own lock: when several start one at once, one stays.
 */
export function spawnSupervisor(settings: Settings): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, ASTRO_CLUSTER_ROOT: settings.root };
  // A holder's or an agent's own identity is not the supervisor's.
  delete env.AGENT_NAME;
  delete env.ASTRO_CLUSTER_LOCK_TOKEN;
  delete env.ASTRO_CLUSTER_LEASE;
  const child = spawn(process.execPath, ['--enable-source-maps', supervisorScript], { cwd: settings.root, detached: true, stdio: 'ignore', env });
  child.unref();
  return child;
}

/**
 * What a lock holder does every few seconds: when the supervisor is gone
 * (SIGKILLed: its lock abandoned, or missing) while agents are wanted, start
 * it again, so that crashes go on being restarted without a person. Not
 * while a halt is stopping everything (`suspended`), nor for an agent that is
 * no longer wanted.
 */
export async function reviveSupervisor(settings: Settings, agentName: string): Promise<boolean> {
  const state = await inspectLock(lockPaths(settings.agentsLocksDir, supervisorName), settings.lockStaleMs);
  if (state.kind !== 'abandoned' && state.kind !== 'free') return false;
  const desired = await readDesired(stateFiles(settings.logsDir).desired);
  if (desired.suspended || desired.agents[agentName]?.run !== true) return false;
  spawnSupervisor(settings);
  return true;
}
