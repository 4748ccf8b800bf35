import { isAlive, isZombie, startTicks } from '../core/index.cjs';
import type { ChildRecord } from './lock.js';

/** Whether the recorded command is still that very process (pids are reused: its start time must match too). */
export function isSameChild(child: ChildRecord): boolean {
  if (!isAlive(child.pid) || isZombie(child.pid)) return false;
  return child.startTicks === null || startTicks(child.pid) === child.startTicks;
}

/** Signals a command's whole process group (its pid is the group's id), only while that pid still names it. */
export function signalGroup(child: ChildRecord, signal: NodeJS.Signals): void {
  if (!isSameChild(child)) return;
  try {
    process.kill(-child.pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/**
 * Ends a command's process group: SIGTERM, then SIGKILL after `timeoutMs`.
 * Resolves once its leader is gone.
 */
export async function endGroup(child: ChildRecord, timeoutMs: number): Promise<'stopped' | 'killed' | 'gone'> {
  if (!isSameChild(child)) return 'gone';
  signalGroup(child, 'SIGTERM');
  if (await exited(child, timeoutMs)) return 'stopped';
  signalGroup(child, 'SIGKILL');
  await exited(child, 5000);
  return 'killed';
}

async function exited(child: ChildRecord, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isSameChild(child)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !isSameChild(child);
}
