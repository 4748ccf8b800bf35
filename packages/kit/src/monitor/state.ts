import path from 'node:path';
import type { Pm2Process } from '../cluster/index.js';
import { logPaths, readJsonFile, writeFileAtomic } from '../core/index.cjs';

/**
 * The monitor's view, in LOGS_DIR/run/monitor.json (written by the pm2-monitor
 * agent only): per app, its restarts, recent exceptions and error lines, and
 * whether its circuit is open. Resets come in through a separate file that
 * only `bin/status --reset` writes, so each file has one writer.
 */
export interface AppRecord {
  restarts: number;
  exits: { at: string; code: number | null; signal?: string }[];
  exceptions: { at: string; message: string }[];
  errors: { at: string; line: string }[];
  circuit: { state: 'closed' } | { state: 'open'; openedAt: string; reason: string };
}

/** A PM2 process as bin/status and the ops page show it. */
export type WorkerSnapshot = Pick<Pm2Process, 'name' | 'pmId' | 'instance' | 'pid' | 'status' | 'restarts' | 'memoryBytes' | 'cpuPercent'> & { uptimeMs: number };

export function workerSnapshot(proc: Pm2Process, now = Date.now()): WorkerSnapshot {
  const { name, pmId, instance, pid, status, restarts, memoryBytes, cpuPercent } = proc;
  return { name, pmId, instance, pid, status, restarts, memoryBytes, cpuPercent, uptimeMs: status === 'online' && proc.startedAt > 0 ? now - proc.startedAt : 0 };
}

export interface MonitorState {
  pid: number;
  updatedAt: string;
  apps: Record<string, AppRecord>;
  workers: WorkerSnapshot[];
}

export function monitorFiles(logsDir: string) {
  const dir = logPaths(logsDir).run;
  return { state: path.join(dir, 'monitor.json'), resets: path.join(dir, 'monitor-resets.json') };
}

export function emptyApp(): AppRecord {
  return { restarts: 0, exits: [], exceptions: [], errors: [], circuit: { state: 'closed' } };
}

export async function readMonitorState(logsDir: string): Promise<MonitorState | undefined> {
  return readJsonFile<MonitorState>(monitorFiles(logsDir).state);
}

export async function writeMonitorState(logsDir: string, state: MonitorState): Promise<void> {
  await writeFileAtomic(monitorFiles(logsDir).state, `${JSON.stringify(state, null, 2)}\n`);
}

/** App → when an operator last reset its circuit. */
export async function readResets(logsDir: string): Promise<Record<string, string>> {
  return (await readJsonFile<Record<string, string>>(monitorFiles(logsDir).resets)) ?? {};
}

export async function requestReset(logsDir: string, app: string): Promise<void> {
  const resets = await readResets(logsDir);
  resets[app] = new Date().toISOString();
  await writeFileAtomic(monitorFiles(logsDir).resets, `${JSON.stringify(resets, null, 2)}\n`);
}
