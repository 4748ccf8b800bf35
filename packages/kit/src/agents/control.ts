import os from 'node:os';
import { errors, pollUntil, tailLines, type Reporter, type Settings } from '../core/index.cjs';
import { agentLogFile } from './agent-log.js';
import { inspectLock, isSameProcess, lockPaths, removeAbandonedLock, type LockOwner, type LockState } from './lock.js';
import { describeLeaseOwner, LeaseClient, type Lease } from './redis-lease.js';
import { loadAgents, pickAgents, supervisorName, type AgentSpec } from './registry.js';
import { endGroup, signalGroup } from './process-group.js';
import { spawnSupervisor } from './revive.js';
import { readDesired, readSupervisorRecord, stateFiles, updateDesired, type AgentRecord } from './state-files.js';

/** What `mh status` shows for one agent (and for the supervisor). */
export interface AgentStatus {
  name: string;
  description: string;
  /** `standby`: with Redis, its holder waits on this host while another host runs it. */
  state: 'running' | 'standby' | 'starting' | 'restarting' | 'failed' | 'stopped' | 'skipped' | 'unresponsive' | 'unknown';
  /** Agents do background work; services (a tunnel, a voice server) are shown apart. */
  kind: 'agent' | 'service' | 'supervisor';
  /** The agent's own process (the command its lock holder started). */
  pid: number | null;
  /** The kit's lock holder around it, which holds the lock and which `stop` signals. */
  holder?: number;
  /** Since when it is in this state (for a running agent: when it took its lock). */
  since: string | null;
  restarts: number;
  lock: string;
  /** The lock in force: `file` (proper-lockfile, this host only) or `redis-lease` (cluster-wide, over the file lock). */
  lockKind: LockKind;
  /** With a Redis lease: the host that runs it (this one or another), when Redis could be asked. */
  runsOn?: string;
  log: string;
  /** A short explanation where the state alone says too little. */
  detail?: string;
}

export type LockKind = 'file' | 'redis-lease';

export interface AgentsStatus {
  supervisor: AgentStatus;
  agents: AgentStatus[];
  /** Which lock makes the agents single, said in words: `file lock on this host` or `Redis lease, cluster-wide`. */
  locks: { kind: LockKind; description: string; leaseMs?: number; problem?: string };
}

/** The kind of lock in force for the agents: a Redis lease when the event log is on Redis (the supervisor is one per host, always a file lock). */
export function lockKindOf(settings: Settings): LockKind {
  return settings.eventsBackend === 'redis' && settings.redisUrl ? 'redis-lease' : 'file';
}

/** Who holds each agent's lease, asked once for all; a Redis that cannot be reached is said, not thrown. */
async function leaseHolders(settings: Settings, names: string[]): Promise<{ holders: Map<string, Lease | undefined>; problem?: string }> {
  const holders = new Map<string, Lease | undefined>();
  if (lockKindOf(settings) !== 'redis-lease' || names.length === 0) return { holders };
  const client = new LeaseClient(settings.redisUrl!, 1500);
  try {
    for (const name of names) holders.set(name, await client.holder(name));
    return { holders };
  } catch (error) {
    return { holders, problem: `Redis cannot be reached: ${(error as Error).message}` };
  } finally {
    client.close();
  }
}


export async function agentsStatus(settings: Settings): Promise<AgentsStatus> {
  const specs = await loadAgents(settings.agentsConfig);
  const record = await readSupervisorRecord(stateFiles(settings.logsDir).supervisor);
  const supervisor = await statusOf(settings, { name: supervisorName, description: 'keeps the wanted agents running', kind: 'supervisor' }, undefined, false);
  const supervised = supervisor.state === 'running';
  const kind = lockKindOf(settings);
  const leases = await leaseHolders(settings, specs.map((spec) => spec.name));
  const agents = await Promise.all(specs.map(async (spec) => withLease(settings, await statusOf(settings, spec, record?.agents[spec.name], supervised), leases)));
  const locks: AgentsStatus['locks'] =
    kind === 'redis-lease'
      ? { kind, description: 'Redis lease, cluster-wide', leaseMs: settings.lockLeaseMs, ...(leases.problem && { problem: leases.problem }) }
      : { kind, description: 'file lock on this host' };
  return { supervisor, agents, locks };
}

/** With a Redis lease: a holder on standby says who runs the agent, a running one its fence; both say which host it runs on. */
function withLease(settings: Settings, status: AgentStatus, leases: { holders: Map<string, Lease | undefined>; problem?: string }): AgentStatus {
  if (status.lockKind !== 'redis-lease') return status;
  const lease = leases.holders.get(status.name);
  const runsOn = lease ? (lease.owner.logsDir === settings.logsDir && lease.owner.host === settings.hostName ? 'this host' : describeLeaseOwner(lease)) : undefined;
  const extra = leases.problem ?? (lease ? `Redis lease, cluster-wide: ${runsOn === 'this host' ? `runs on this host (fence ${lease.fence})` : `runs on ${runsOn}`}` : status.state === 'standby' ? 'Redis lease, cluster-wide: nobody holds it now' : undefined);
  return { ...status, ...(runsOn && { runsOn }), ...(extra && { detail: status.detail ? `${status.detail}; ${extra}` : extra }) };
}

async function statusOf(
  settings: Settings,
  spec: Pick<AgentSpec, 'name' | 'description'> & { kind: AgentStatus['kind'] },
  record: AgentRecord | undefined,
  supervised: boolean,
): Promise<AgentStatus> {
  const paths = lockPaths(settings.agentsLocksDir, spec.name);
  const lock = await inspectLock(paths, settings.lockStaleMs);
  const base = {
    name: spec.name,
    description: spec.description,
    kind: spec.kind,
    restarts: record?.restarts ?? 0,
    lock: paths.dir,
    // The supervisor runs on every host: its lock is always this host's.
    lockKind: spec.kind === 'supervisor' ? ('file' as const) : lockKindOf(settings),
    log: agentLogFile(settings.logsDir, spec.name),
  };
  const lastExit = record?.lastExit ? `last exit: ${record.lastExit.signal ?? `code ${record.lastExit.code}`} at ${record.lastExit.at}` : undefined;
  switch (lock.kind) {
    case 'held':
      // A holder that has the lock but has not started its command yet: the agent itself is not there yet.
      if (lock.owner.holder && !lock.owner.child && lock.owner.standby) return { ...base, state: 'standby', pid: null, holder: lock.owner.pid, since: lock.owner.standby.since };
      if (lock.owner.holder && !lock.owner.child) return { ...base, state: 'starting', pid: null, holder: lock.owner.pid, since: lock.owner.startedAt };
      return {
        ...base,
        state: 'running',
        pid: lock.owner.child?.pid ?? lock.owner.pid,
        ...(lock.owner.child && { holder: lock.owner.pid }),
        since: lock.owner.startedAt,
        ...(lock.owner.host !== os.hostname() && { detail: `on ${lock.owner.host}` }),
      };
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
  if (record?.state === 'skipped') return { ...base, state: 'skipped', pid: null, since: record.since, ...(record.reason && { detail: record.reason }) };
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
  /** The agent's process; null for an optional service that was skipped. */
  pid: number | null;
  /** It was running before this start. */
  already: boolean;
  /** An optional service whose command is missing: reported, not started. */
  skipped?: boolean;
  /** With Redis: another host runs it, and this host's holder waits on standby. */
  standby?: boolean;
}

/** The agents desired.json says should run: what a boot starts. */
export async function wantedAgents(settings: Settings): Promise<string[]> {
  const known = await loadAgents(settings.agentsConfig);
  const desired = await readDesired(stateFiles(settings.logsDir).desired);
  return known.filter((spec) => desired.agents[spec.name]?.run === true).map((spec) => spec.name);
}

/**
 * Marks the agents as wanted, makes sure the supervisor runs, and waits until
 * each agent holds its lock. Idempotent: an agent that already runs is left
 * alone. `restart` stops them first.
 */
export async function startAgents(settings: Settings, names: string[], options: { restart?: boolean }, report: Reporter): Promise<StartResult[]> {
  const specs = pickAgents(await loadAgents(settings.agentsConfig), names);
  // Nothing to run: no supervisor either (it would exit at once, having nothing wanted).
  if (specs.length === 0) return [];
  if (options.restart) await stopAgents(settings, specs.map((spec) => spec.name), { timeoutMs: 10_000, force: false }, report);
  const before = new Map<string, LockState>();
  for (const spec of specs) before.set(spec.name, await lockStateOf(settings, spec.name));

  const files = stateFiles(settings.logsDir);
  const desired = await updateDesired(files.desired, (wanted) => {
    delete wanted.suspended;
    for (const spec of specs) {
      const generation = (wanted.agents[spec.name]?.generation ?? 0) + 1;
      wanted.agents[spec.name] = { run: true, generation, changedAt: new Date().toISOString() };
    }
  });
  await ensureSupervisor(settings, report);

  const results: StartResult[] = [];
  const timeoutMs = Math.max(30_000, settings.lockStaleMs + 15_000);
  for (const spec of specs) {
    const generation = desired.agents[spec.name]?.generation ?? 0;
    const { value: outcome } = await pollUntil(
      async (): Promise<{ owner: LockOwner } | { standby: LockOwner } | { failed: AgentRecord } | { skipped: AgentRecord } | undefined> => {
        const state = await lockStateOf(settings, spec.name);
        // With Redis, another host runs it: this host's holder waits on standby, as wanted.
        if (state.kind === 'held' && state.owner.holder && !state.owner.child && state.owner.standby) return { standby: state.owner };
        // A lock holder's agent runs once the holder has recorded the command it started, and that has
        // lasted a moment: a command that dies at once is retried by the supervisor until it runs or fails.
        if (state.kind === 'held' && (!state.owner.holder || (state.owner.child && Date.now() - Date.parse(state.owner.startedAt) >= SETTLE_MS))) {
          return { owner: state.owner };
        }
        // A supervisor that had nothing left to run may have been on its way out when we poked it.
        await ensureSupervisor(settings, report, false);
        // Only a verdict reached after this start counts: an older `failed` is cleared by it.
        const record = (await readSupervisorRecord(files.supervisor))?.agents[spec.name];
        if (!record || record.generation < generation) return undefined;
        return record.state === 'failed' ? { failed: record } : record.state === 'skipped' ? { skipped: record } : undefined;
      },
      { timeoutMs, intervalMs: 100 },
    );
    if (outcome && 'skipped' in outcome) {
      report.warn(`${spec.name} skipped: ${outcome.skipped.reason ?? 'its command is missing'}`);
      results.push({ name: spec.name, pid: null, already: false, skipped: true });
      continue;
    }
    if (outcome && 'standby' in outcome) {
      report.done(`${spec.name} on standby (holder pid ${outcome.standby.pid}): ${outcome.standby.standby?.reason ?? 'another host runs it'}`);
      results.push({ name: spec.name, pid: null, already: false, standby: true });
      continue;
    }
    if (!outcome || 'failed' in outcome) {
      const why = outcome
        ? `${spec.name} failed to start and was left stopped: ${outcome.failed.reason ?? 'see its log'}`
        : `${spec.name} did not take its lock within ${Math.round(timeoutMs / 1000)} s`;
      throw errors.agentFailed(spec.name, why, await tailLines(agentLogFile(settings.logsDir, spec.name), 10));
    }
    const { owner } = outcome;
    const previous = before.get(spec.name);
    const already = previous?.kind === 'held' && previous.owner.pid === owner.pid;
    const pid = owner.child?.pid ?? owner.pid;
    report.done(already ? `${spec.name} already running (pid ${pid})` : `started ${spec.name} (pid ${pid})`);
    results.push({ name: spec.name, pid, already });
  }
  return results;
}

/** How long a just-started command must have run before `start` reports it started. */
const SETTLE_MS = 1000;

export interface StopResult {
  name: string;
  outcome: 'stopped' | 'killed' | 'not-running';
  pid?: number;
  ms?: number;
  /** What was done instead, when it was not running. */
  note?: string;
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
  // Meanwhile no holder may revive the supervisor (suspended, until the next start).
  await updateDesired(stateFiles(settings.logsDir).desired, (desired) => {
    if (options.keepWanted) {
      desired.suspended = true;
      return;
    }
    for (const spec of specs) {
      desired.agents[spec.name] = { run: false, generation: desired.agents[spec.name]?.generation ?? 0, changedAt: new Date().toISOString() };
    }
  });
  const agents = () => Promise.all(specs.map((spec) => stopAndReport(settings, spec.name, options, report)));
  if (names !== 'all') {
    const results = await agents();
    await pokeSupervisor(settings);
    return results;
  }
  // Unwanted agents are stopped first (the supervisor then exits by itself). Wanted ones go with their
  // supervisor, which would otherwise take their exits for crashes and restart them.
  if (options.keepWanted) {
    const supervisor = await stopAndReport(settings, supervisorName, options, report);
    return [...(await agents()), supervisor];
  }
  // Seen before the agents go: with nothing left to run, the supervisor may be gone by the time it is its turn.
  const supervisorBefore = await lockStateOf(settings, supervisorName);
  const results = await agents();
  return [...results, await stopAndReport(settings, supervisorName, options, report, supervisorBefore)];
}

/** Stops one agent (or the supervisor) and says how it went, also when something else stopped it meanwhile. */
async function stopAndReport(
  settings: Settings,
  name: string,
  options: { timeoutMs: number; force: boolean },
  report: Reporter,
  seen?: LockState,
): Promise<StopResult> {
  const before = seen ?? (await lockStateOf(settings, name));
  let result = await stopOne(settings, name, options, report);
  if (result.outcome === 'not-running' && !result.note && before.kind === 'held' && before.owner.host === os.hostname()) {
    // It was running a moment ago: its supervisor stopped it, or it exited by itself.
    if (!(await gone(before.owner, options.timeoutMs))) throw errors.agentNotStopped(name, before.owner.pid, options.timeoutMs / 1000);
    result = { name, outcome: 'stopped', pid: before.owner.pid };
  }
  const who = name === supervisorName ? 'the supervisor' : name;
  if (result.outcome === 'not-running') report.done(`${who} was not running${result.note ? ` (${result.note})` : ''}`);
  else report.done(`${result.outcome} ${who} (pid ${result.pid})${result.ms === undefined ? '' : ` in ${(result.ms / 1000).toFixed(1)} s`}`);
  return result;
}

async function stopOne(settings: Settings, name: string, options: { timeoutMs: number; force: boolean }, report: Reporter): Promise<StopResult> {
  const paths = lockPaths(settings.agentsLocksDir, name);
  const state = await inspectLock(paths, settings.lockStaleMs);
  if (state.kind === 'free') return { name, outcome: 'not-running' };
  if (state.kind === 'abandoned' || (state.kind === 'stale' && state.owner && !isSameProcess(state.owner))) {
    // A holder that died (SIGKILL) may have left its command running, without a lock: that goes too.
    const orphan = state.owner?.host === os.hostname() ? state.owner.child : undefined;
    const ended = orphan ? await endGroup(orphan, options.force ? 0 : options.timeoutMs) : 'gone';
    await removeAbandonedLock(paths, settings.lockStaleMs);
    if (orphan && ended !== 'gone') return { name, outcome: ended, pid: orphan.pid, note: `its lock holder had died` };
    return { name, outcome: 'not-running', note: `removed the lock left by pid ${state.owner?.pid}` };
  }
  if (state.kind === 'unknown-owner' || state.kind === 'unusable') throw errors.lockUnusable(paths.dir, `${state.reason}; not signalling anyone`);
  if (!state.owner) throw errors.lockUnusable(paths.dir, 'stale and without an owner record');
  const owner = state.owner;
  if (owner.host !== os.hostname()) throw errors.lockUnusable(paths.dir, `held by pid ${owner.pid} on ${owner.host}: stop it there`);

  const began = Date.now();
  let outcome: StopResult['outcome'] = options.force ? 'killed' : 'stopped';
  const patienceMs = options.force ? 5000 : options.timeoutMs;
  // A holder ends its command's process group on SIGTERM; a SIGKILL it cannot pass on, so the group gets it too.
  const kill = () => {
    signal(owner, 'SIGKILL');
    if (owner.child) signalGroup(owner.child, 'SIGKILL');
  };
  if (options.force) kill();
  else signal(owner, 'SIGTERM');
  if (!(await gone(owner, patienceMs))) {
    report.warn(`${name} (pid ${owner.pid}) still running after ${patienceMs / 1000} s: SIGKILL`);
    kill();
    if (!(await gone(owner, 5000))) throw errors.agentNotStopped(name, owner.pid, 5);
    outcome = 'killed';
  }
  if (owner.child && (await endGroup(owner.child, 5000)) === 'killed') outcome = 'killed';
  // A killed process cannot release its lock: remove it, now that its holder is verifiably dead.
  await removeAbandonedLock(paths, settings.lockStaleMs);
  const after = await inspectLock(paths, settings.lockStaleMs);
  if (after.kind !== 'free' && !(after.kind === 'held' && after.owner.pid !== owner.pid)) {
    throw errors.lockUnusable(paths.dir, `still ${after.kind} after pid ${owner.pid} exited`);
  }
  return { name, outcome, pid: owner.child?.pid ?? owner.pid, ms: Date.now() - began };
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

/**
 * Starts the supervisor when none holds its lock, detached so it outlives the
 * command (its runtime writes its own log, line by line); otherwise asks the
 * running one to look now, unless `poke` is false.
 */
async function ensureSupervisor(settings: Settings, report: Reporter, poke = true): Promise<void> {
  const state = await lockStateOf(settings, supervisorName);
  if (state.kind === 'held') return void (poke && (await pokeSupervisor(settings)));
  const logFile = agentLogFile(settings.logsDir, supervisorName);
  const child = spawnSupervisor(settings);
  const { value } = await pollUntil(async () => {
    const now = await lockStateOf(settings, supervisorName);
    return now.kind === 'held' ? now.owner : undefined;
  }, { timeoutMs: 15_000, intervalMs: 50 });
  if (!value) throw errors.agentFailed(supervisorName, 'the supervisor did not start', await tailLines(logFile, 10));
  if (value.pid === child.pid) report.done(`started the supervisor (pid ${value.pid})`);
}

/** Asks the supervisor to look at desired.json now (SIGHUP), if it runs. */
async function pokeSupervisor(settings: Settings): Promise<void> {
  const state = await lockStateOf(settings, supervisorName);
  if (state.kind === 'held' && state.owner.host === os.hostname()) signal(state.owner, 'SIGHUP');
}

/** The state of an agent's lock (or the supervisor's) right now. */
function lockStateOf(settings: Settings, name: string): Promise<LockState> {
  return inspectLock(lockPaths(settings.agentsLocksDir, name), settings.lockStaleMs);
}
