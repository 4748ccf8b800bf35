import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errors, KitError, logPaths, pollUntil, tailLines, type Reporter, type Settings } from '@kit/core';
import { agentLogFile } from './agent-log.js';
import { inspectLock, isSameProcess, lockPaths, removeAbandonedLock, type LockOwner, type LockState } from './lock.js';
import { loadAgents, pickAgents, supervisorName, type AgentSpec } from './registry.js';
import { readDesired, readSupervisorRecord, stateFiles, updateDesired, type AgentRecord } from './state-files.js';

/** What `mh status` shows for one agent (and for the supervisor). */
export interface AgentStatus {
  name: string;
  description: string;
  state: 'running' | 'starting' | 'restarting' | 'failed' | 'stopped' | 'unresponsive' | 'unknown';
  pid: number | null;
  /** Since when it is in this state (for a running agent: when it took its lock). */
  since: string | null;
  restarts: number;
  lock: string;
  log: string;
  /** A short explanation where the state alone says too little. */
  detail?: string;
}

export interface AgentsStatus {
  supervisor: AgentStatus;
  agents: AgentStatus[];
}

const supervisorScript = fileURLToPath(new URL('./supervisor-main.js', import.meta.url));

export async function agentsStatus(settings: Settings): Promise<AgentsStatus> {
  const specs = await loadAgents(settings.agentsConfig);
  const record = await readSupervisorRecord(stateFiles(settings.logsDir).supervisor);
  const supervisor = await statusOf(settings, { name: supervisorName, description: 'keeps the wanted agents running' }, undefined, false);
  const supervised = supervisor.state === 'running';
  const agents = await Promise.all(specs.map((spec) => statusOf(settings, spec, record?.agents[spec.name], supervised)));
  return { supervisor, agents };
}

async function statusOf(
  settings: Settings,
  spec: Pick<AgentSpec, 'name' | 'description'>,
  record: AgentRecord | undefined,
  supervised: boolean,
): Promise<AgentStatus> {
  const paths = lockPaths(logPaths(settings.logsDir).locks, spec.name);
  const lock = await inspectLock(paths, settings.lockStaleMs);
  const base = {
    name: spec.name,
    description: spec.description,
    restarts: record?.restarts ?? 0,
    lock: paths.dir,
    log: agentLogFile(settings.logsDir, spec.name),
  };
  const lastExit = record?.lastExit ? `last exit: ${record.lastExit.signal ?? `code ${record.lastExit.code}`} at ${record.lastExit.at}` : undefined;
  switch (lock.kind) {
    case 'held':
      return { ...base, state: 'running', pid: lock.owner.pid, since: lock.owner.startedAt, ...(lock.owner.host !== os.hostname() && { detail: `on ${lock.owner.host}` }) };
    case 'stale':
      if (lock.owner && isSameProcess(lock.owner)) {
        return { ...base, state: 'unresponsive', pid: lock.owner.pid, since: lock.owner.startedAt, detail: `lock not refreshed for ${Math.round(lock.ageMs / 1000)} s` };
      }
      break;
    case 'unknown-owner':
    case 'unusable':
      return { ...base, state: 'unknown', pid: null, since: null, detail: lock.reason };
    default:
      break;
  }
  if (record?.state === 'failed') {
    return { ...base, state: 'failed', pid: null, since: record.since, detail: [record.reason, lastExit].filter(Boolean).join('; ') };
  }
  if (supervised && (record?.state === 'restarting' || record?.state === 'starting')) {
    const detail = record.nextRestartAt ? `next try at ${record.nextRestartAt}` : undefined;
    return { ...base, state: record.state, pid: null, since: record.since, ...(detail && { detail }) };
  }
  const since = record?.lastExit?.at ?? null;
  return { ...base, state: 'stopped', pid: null, since, ...(lastExit && { detail: lastExit }) };
}

export interface StartResult {
  name: string;
  pid: number;
  /** It was running before this start. */
  already: boolean;
}

/**
 * Marks the agents as wanted, makes sure the supervisor runs, and waits until
 * each agent holds its lock. Idempotent: an agent that already runs is left
 * alone. `restart` stops them first.
 */
/** The agents desired.json says should run: what a boot starts. */
export async function wantedAgents(settings: Settings): Promise<string[]> {
  const known = await loadAgents(settings.agentsConfig);
  const desired = await readDesired(stateFiles(settings.logsDir).desired);
  return known.filter((spec) => desired.agents[spec.name]?.run === true).map((spec) => spec.name);
}

export async function startAgents(settings: Settings, names: string[], options: { restart?: boolean }, report: Reporter): Promise<StartResult[]> {
  const specs = pickAgents(await loadAgents(settings.agentsConfig), names);
  if (options.restart) await stopAgents(settings, specs.map((spec) => spec.name), { timeoutMs: 10_000, force: false }, report);
  const locksDir = logPaths(settings.logsDir).locks;
  const before = new Map<string, LockState>();
  for (const spec of specs) before.set(spec.name, await inspectLock(lockPaths(locksDir, spec.name), settings.lockStaleMs));

  const files = stateFiles(settings.logsDir);
  const desired = await updateDesired(files.desired, (wanted) => {
    for (const spec of specs) {
      const generation = (wanted.agents[spec.name]?.generation ?? 0) + 1;
      wanted.agents[spec.name] = { run: true, generation, changedAt: new Date().toISOString() };
    }
  });
  await ensureSupervisor(settings, report);

  const results: StartResult[] = [];
  const timeoutMs = Math.max(30_000, settings.lockStaleMs + 15_000);
  for (const spec of specs) {
    const paths = lockPaths(locksDir, spec.name);
    const generation = desired.agents[spec.name]?.generation ?? 0;
    const { value: outcome } = await pollUntil(
      async (): Promise<{ owner: LockOwner } | { failed: AgentRecord } | undefined> => {
        const state = await inspectLock(paths, settings.lockStaleMs);
        if (state.kind === 'held') return { owner: state.owner };
        // Only a verdict reached after this start counts: an older `failed` is cleared by it.
        const record = (await readSupervisorRecord(files.supervisor))?.agents[spec.name];
        return record && record.generation >= generation && record.state === 'failed' ? { failed: record } : undefined;
      },
      { timeoutMs, intervalMs: 100 },
    );
    if (!outcome || 'failed' in outcome) {
      const why = outcome
        ? `${spec.name} failed to start and was left stopped: ${outcome.failed.reason ?? 'see its log'}`
        : `${spec.name} did not take its lock within ${Math.round(timeoutMs / 1000)} s`;
      throw await failed(spec.name, why, settings);
    }
    const { owner } = outcome;
    const previous = before.get(spec.name);
    const already = previous?.kind === 'held' && previous.owner.pid === owner.pid;
    report.done(already ? `${spec.name} already running (pid ${owner.pid})` : `started ${spec.name} (pid ${owner.pid})`);
    results.push({ name: spec.name, pid: owner.pid, already });
  }
  return results;
}

async function failed(name: string, why: string, settings: Settings): Promise<KitError> {
  const tail = await tailLines(agentLogFile(settings.logsDir, name), 10);
  return new KitError('KIT_AGENT_FAILED', `${why}${tail ? `\nLast lines of its log:\n${tail}` : ''}`, `\`mh logs ${name}\` shows its whole log; \`mh status\` its state.`);
}

export interface StopResult {
  name: string;
  outcome: 'stopped' | 'killed' | 'not-running';
  pid?: number;
  ms?: number;
}

/**
 * Stops agents by the pid recorded in their lock, after checking that this
 * pid still is that agent (same start time): never by name or pattern.
 * SIGTERM first (or SIGKILL with force), SIGKILL after the timeout, and the
 * lock is confirmed released. `all` stops every agent, then the supervisor.
 */
export async function stopAgents(
  settings: Settings,
  names: string[] | 'all',
  options: { timeoutMs: number; force: boolean; keepWanted?: boolean },
  report: Reporter,
): Promise<StopResult[]> {
  const known = await loadAgents(settings.agentsConfig);
  const specs = names === 'all' ? known : pickAgents(known, names);
  // A shutdown (bin/startup halt) stops the processes but keeps them wanted: the next boot brings them back.
  if (!options.keepWanted) {
    await updateDesired(stateFiles(settings.logsDir).desired, (desired) => {
      for (const spec of specs) {
        desired.agents[spec.name] = { run: false, generation: desired.agents[spec.name]?.generation ?? 0, changedAt: new Date().toISOString() };
      }
    });
  }
  const supervisorLock = lockPaths(logPaths(settings.logsDir).locks, supervisorName);
  const supervisorBefore = await inspectLock(supervisorLock, settings.lockStaleMs);
  const results = await Promise.all(specs.map((spec) => stopOne(settings, spec.name, options, report)));
  if (names !== 'all') {
    await pokeSupervisor(settings);
    return results;
  }
  // With nothing left to run the supervisor exits by itself; stop it if it has not yet.
  const supervisor = await stopOne(settings, supervisorName, options, { ...report, done: () => undefined });
  if (supervisor.outcome === 'not-running' && supervisorBefore.kind === 'held' && !(await gone(supervisorBefore.owner, options.timeoutMs))) {
    throw errors.agentNotStopped(supervisorName, supervisorBefore.owner.pid, options.timeoutMs / 1000);
  }
  const pid = supervisor.pid ?? (supervisorBefore.kind === 'held' ? supervisorBefore.owner.pid : undefined);
  report.done(pid === undefined ? 'the supervisor was not running' : `stopped the supervisor (pid ${pid})`);
  results.push(pid === undefined ? supervisor : { ...supervisor, outcome: supervisor.outcome === 'killed' ? 'killed' : 'stopped', pid });
  return results;
}

async function stopOne(settings: Settings, name: string, options: { timeoutMs: number; force: boolean }, report: Reporter): Promise<StopResult> {
  const paths = lockPaths(logPaths(settings.logsDir).locks, name);
  const state = await inspectLock(paths, settings.lockStaleMs);
  if (state.kind === 'free') {
    report.done(`${name} was not running`);
    return { name, outcome: 'not-running' };
  }
  if (state.kind === 'abandoned' || (state.kind === 'stale' && state.owner && !isSameProcess(state.owner))) {
    await removeAbandonedLock(paths, settings.lockStaleMs);
    report.done(`${name} was not running (removed the lock left by pid ${state.owner?.pid})`);
    return { name, outcome: 'not-running' };
  }
  if (state.kind === 'unknown-owner' || state.kind === 'unusable') throw errors.lockUnusable(paths.dir, `${state.reason}; not signalling anyone`);
  if (!state.owner) throw errors.lockUnusable(paths.dir, 'stale and without an owner record');
  const owner = state.owner;
  if (owner.host !== os.hostname()) throw errors.lockUnusable(paths.dir, `held by pid ${owner.pid} on ${owner.host}: stop it there`);

  const began = Date.now();
  let outcome: StopResult['outcome'] = 'stopped';
  signal(owner, options.force ? 'SIGKILL' : 'SIGTERM');
  if (!(await gone(owner, options.force ? 5000 : options.timeoutMs))) {
    report.warn(`${name} (pid ${owner.pid}) still running after ${options.timeoutMs / 1000} s: SIGKILL`);
    signal(owner, 'SIGKILL');
    if (!(await gone(owner, 5000))) throw errors.agentNotStopped(name, owner.pid, 5);
    outcome = 'killed';
  }
  if (options.force) outcome = 'killed';
  // A killed process cannot release its lock: remove it, now that its holder is verifiably dead.
  await removeAbandonedLock(paths, settings.lockStaleMs);
  const after = await inspectLock(paths, settings.lockStaleMs);
  if (after.kind !== 'free' && !(after.kind === 'held' && after.owner.pid !== owner.pid)) {
    throw errors.lockUnusable(paths.dir, `still ${after.kind} after pid ${owner.pid} exited`);
  }
  const ms = Date.now() - began;
  report.done(`${outcome === 'killed' ? 'killed' : 'stopped'} ${name} (pid ${owner.pid}) in ${(ms / 1000).toFixed(1)} s`);
  return { name, outcome, pid: owner.pid, ms };
}

/** Signals the owner only while its pid still names the same process. */
function signal(owner: LockOwner, name: NodeJS.Signals): void {
  if (!isSameProcess(owner)) return;
  try {
    process.kill(owner.pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function gone(owner: LockOwner, timeoutMs: number): Promise<boolean> {
  return (await pollUntil(() => !isSameProcess(owner), { timeoutMs, intervalMs: 50 })).value === true;
}

/** Starts the supervisor when none holds its lock, detached so it outlives the command. */
async function ensureSupervisor(settings: Settings, report: Reporter): Promise<void> {
  const paths = lockPaths(logPaths(settings.logsDir).locks, supervisorName);
  const state = await inspectLock(paths, settings.lockStaleMs);
  if (state.kind === 'held') return void (await pokeSupervisor(settings));
  const logFile = agentLogFile(settings.logsDir, supervisorName);
  mkdirSync(path.dirname(logFile), { recursive: true });
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--enable-source-maps', supervisorScript], { detached: true, stdio: ['ignore', out, out], env: process.env });
  child.unref();
  closeSync(out);
  const { value } = await pollUntil(async () => {
    const now = await inspectLock(paths, settings.lockStaleMs);
    return now.kind === 'held' ? now.owner : undefined;
  }, { timeoutMs: 15_000, intervalMs: 50 });
  if (!value) throw await failed(supervisorName, 'the supervisor did not start', settings);
  if (value.pid === child.pid) report.done(`started the supervisor (pid ${value.pid})`);
}

/** Asks the supervisor to look at desired.json now (SIGHUP), if it runs. */
async function pokeSupervisor(settings: Settings): Promise<void> {
  const state = await inspectLock(lockPaths(logPaths(settings.logsDir).locks, supervisorName), settings.lockStaleMs);
  if (state.kind === 'held' && state.owner.host === os.hostname()) signal(state.owner, 'SIGHUP');
}
