import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { logPaths, readJsonFile, writeFileAtomic } from '../core/index.cjs';

/**
 * Two small JSON files under LOGS_DIR/run/kit-state:
 * - desired.json, written by bin/mh: which agents should run. Each `mh start`
 *   bumps the agent's generation, which tells the supervisor to forget an
 *   earlier `failed`.
 * - supervisor.json, written by the supervisor: what it sees and did
 *   (state, restarts, last exit), for `mh status` and the agents page.
 */
export interface Desired {
  agents: Record<string, { run: boolean; generation: number; changedAt: string }>;
  /** A halt (the boot unit's stop) is stopping everything: holders must not bring the supervisor back meanwhile. */
  suspended?: boolean;
}

/** `skipped`: an optional service whose command is missing. */
export type AgentRunState = 'starting' | 'running' | 'restarting' | 'failed' | 'stopped' | 'skipped';

export interface AgentRecord {
  state: AgentRunState;
  pid: number | null;
  restarts: number;
  crashesInARow: number;
  generation: number;
  since: string;
  lastExit?: { code: number | null; signal: string | null; at: string };
  /** Why it is `failed`. */
  reason?: string;
  nextRestartAt?: string;
}

export interface SupervisorRecord {
  pid: number;
  updatedAt: string;
  agents: Record<string, AgentRecord>;
}

export function stateFiles(logsDir: string) {
  const dir = logPaths(logsDir).agentState;
  return { desired: path.join(dir, 'desired.json'), supervisor: path.join(dir, 'supervisor.json') };
}

export async function readDesired(file: string): Promise<Desired> {
  return (await readJsonFile<Desired>(file)) ?? { agents: {} };
}

/** Changes desired.json under a lock, so concurrent `mh` commands never lose each other's changes. */
export async function updateDesired(file: string, change: (desired: Desired) => void): Promise<Desired> {
  await mkdir(path.dirname(file), { recursive: true });
  const release = await lockfile.lock(file, {
    realpath: false,
    stale: 5000,
    retries: { retries: 100, factor: 1.2, minTimeout: 10, maxTimeout: 200 },
    onCompromised: () => undefined,
  });
  try {
    const desired = await readDesired(file);
    change(desired);
    await writeFileAtomic(file, `${JSON.stringify(desired, null, 2)}\n`);
    return desired;
  } finally {
    await release().catch(() => undefined);
  }
}

export async function readSupervisorRecord(file: string): Promise<SupervisorRecord | undefined> {
  return readJsonFile<SupervisorRecord>(file);
}

export async function writeSupervisorRecord(file: string, record: SupervisorRecord): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`);
}
