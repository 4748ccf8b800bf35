import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { commandLine, isAlive, isZombie } from '../core/index.cjs';
import { keepAgentsHostRegistered } from '../hosts/registry.js';
import { openAgentLog } from './agent-log.js';
import { commandPath, findExecutable } from './command-path.js';
import { exitCodes } from './exit-codes.js';
import { inspectLock, lockPaths, type LockState } from './lock.js';
import type { AgentSpec } from './registry.js';
import { afterCrash, crashesInARow } from './restart-policy.js';
import type { AgentContext } from './runtime.js';
import type { Waker } from './waker.js';
import { readDesired, readSupervisorRecord, stateFiles, writeSupervisorRecord, type AgentRecord, type SupervisorRecord } from './state-files.js';

interface Running {
  child: ChildProcess;
  startedAt: number;
}

const RECONCILE_EVERY_MS = 500;
const holderScript = fileURLToPath(new URL('./holder-main.js', import.meta.url));

/**
 * Keeps the wanted agents running: starts them, restarts a crashed one with
 * exponential back-off, leaves one that keeps crashing stopped as `failed`,
 * and starts a replacement when an agent's lock goes stale (a frozen
 * holder). It runs as the `supervisor` agent, so it is a lock-guarded
 * singleton too. It exits by itself once no agent is wanted.
 */
export class Supervisor {
  readonly #agent: AgentContext;
  readonly #specs: AgentSpec[];
  readonly #files: ReturnType<typeof stateFiles>;
  readonly #records = new Map<string, AgentRecord>();
  /** The current process of each agent. */
  readonly #children = new Map<string, Running>();
  /** Replaced processes that have not exited yet (a frozen holder): stopped with the rest on shutdown. */
  readonly #retired = new Set<ChildProcess>();
  readonly #waker: Waker;
  /** Agents whose lock was found free while their holder lived, and since when. */
  readonly #freeSince = new Map<string, number>();
  /** Whether the last write of the supervisor record failed (said once, then retried each round). */
  #saveFailing = false;

  constructor(agent: AgentContext, specs: AgentSpec[]) {
    this.#agent = agent;
    this.#specs = specs;
    this.#files = stateFiles(agent.settings.logsDir);
    for (const spec of specs) this.#records.set(spec.name, { state: 'stopped', pid: null, restarts: 0, crashesInARow: 0, generation: 0, since: now() });
    this.#waker = agent.waker();
  }

  async run(): Promise<void> {
    // bin/mh sends SIGHUP after changing desired.json: look now rather than at the next tick.
    process.on('SIGHUP', () => this.#waker.wake());
    // On an agents-only host nothing else keeps the host listed (kit:hosts:<name>): the supervisor does, while it runs.
    const unlist = keepAgentsHostRegistered(this.#agent.settings, `agents supervisor pid ${process.pid}`);
    try {
      await this.#adoptLiveHolders();
      while (!this.#agent.signal.aborted) {
        const busy = await this.#agent.unit(() => this.#reconcile());
        if (!busy) {
          this.#agent.log('no agent is wanted any more: exiting');
          return;
        }
        await this.#waker.wait(RECONCILE_EVERY_MS);
      }
      await this.#stopChildren();
    } finally {
      await unlist();
    }
  }

  /** One look at every agent; false when nothing is wanted and nothing runs. */
  async #reconcile(): Promise<boolean> {
    const desired = await readDesired(this.#files.desired);
    let busy = this.#children.size > 0;
    for (const spec of this.#specs) {
      const record = this.#records.get(spec.name)!;
      const wish = desired.agents[spec.name];
      if (wish && wish.generation !== record.generation) {
        // A new `mh start`: whatever failed (or was skipped) before gets a fresh set of tries.
        record.generation = wish.generation;
        if (wish.run && (record.state === 'failed' || record.state === 'skipped')) this.#set(record, 'stopped');
        record.crashesInARow = 0;
      }
      if (!wish?.run) {
        if (!this.#children.has(spec.name) && record.state !== 'failed') this.#set(record, 'stopped', null);
        continue;
      }
      busy = true;
      await this.#keepRunning(spec, record);
    }
    await this.#save();
    return busy;
  }

  async #keepRunning(spec: AgentSpec, record: AgentRecord): Promise<void> {
    if (record.state === 'failed' || record.state === 'skipped') return;
    if (record.state === 'restarting' && record.nextRestartAt && Date.parse(record.nextRestartAt) > Date.now()) return;

    const lock = await inspectLock(lockPaths(this.#agent.settings.agentsLocksDir, spec.name), this.#agent.settings.lockStaleMs);
    const running = this.#children.get(spec.name);
    if (lock.kind === 'held') {
      // Ours once it took its lock, or another process's (started by hand, or by an earlier supervisor): adopted.
      if (record.state !== 'running' || record.pid !== lock.owner.pid) this.#set(record, 'running', lock.owner.pid);
      return;
    }
    if (lock.kind === 'unusable') {
      record.reason = `its lock ${lockPaths(this.#agent.settings.agentsLocksDir, spec.name).dir} cannot be used: ${lock.reason}`;
      this.#agent.log(`${spec.name}: ${record.reason}: left stopped as failed`);
      return this.#set(record, 'failed', null);
    }
    if (lock.kind === 'unknown-owner') {
      // Someone holds it and we cannot tell who: only the stale window can free it.
      if (record.state !== 'starting') this.#agent.log(`${spec.name}: lock held by an unknown process; waiting for it to go stale`);
      return this.#set(record, 'starting', null);
    }
    if (running && !this.#frozen(running, lock)) return; // still starting up
    if (!running && lock.kind === 'free' && this.#retaking(spec, record)) return;
    if (!running && record.state === 'running' && lock.kind === 'abandoned') {
      // An adopted agent died: a crash like any other.
      return this.#crashed(spec, record, { code: null, signal: null }, Date.now() - Date.parse(record.since));
    }
    if (running) {
      this.#agent.log(`${spec.name}: pid ${running.child.pid} stopped refreshing its lock (frozen?): starting a replacement`);
      this.#retired.add(running.child);
      this.#children.delete(spec.name);
    }
    this.#start(spec, record);
  }

  /**
   * A supervisor started in place of one that died (SIGKILL) adopts the lock
   * holders its predecessor recorded as running and that still live: they
   * hold their agents' locks, or are taking them again.
   */
  async #adoptLiveHolders(): Promise<void> {
    const previous = await readSupervisorRecord(this.#files.supervisor);
    for (const [name, record] of this.#records) {
      const before = previous?.agents[name];
      if (before?.state === 'running' && before.pid !== null && isLiveHolder(before.pid)) {
        Object.assign(record, { state: 'running', pid: before.pid, since: before.since, generation: before.generation, restarts: before.restarts });
      }
    }
  }

  /**
   * A live holder whose lock folder vanished (someone removed the locks
   * folder) takes its lock again at its next refresh: no second copy may be
   * started meanwhile. Waited for one stale window at most.
   */
  #retaking(spec: AgentSpec, record: AgentRecord): boolean {
    if (record.state !== 'running' || record.pid === null || !isLiveHolder(record.pid)) {
      this.#freeSince.delete(spec.name);
      return false;
    }
    const since = this.#freeSince.get(spec.name) ?? Date.now();
    this.#freeSince.set(spec.name, since);
    if (Date.now() - since <= this.#agent.settings.lockStaleMs) return true;
    this.#freeSince.delete(spec.name);
    return false;
  }

  /**
   * Whether our process froze: its own lock went stale, or it has had a whole
   * stale window to take over a frozen predecessor's and has not. Right after
   * a replacement starts, the stale lock is still the predecessor's.
   */
  #frozen(running: Running, lock: LockState): boolean {
    if (lock.kind !== 'stale') return false;
    return lock.owner?.pid === running.child.pid || Date.now() - running.startedAt > this.#agent.settings.lockStaleMs;
  }

  #start(spec: AgentSpec, record: AgentRecord): void {
    const { settings } = this.#agent;
    // A missing command will not appear by retrying: an optional service is skipped, anything else fails at once.
    if (!findExecutable(spec.command[0]!, spec.cwd, commandPath(settings.root, spec.env.PATH ?? process.env.PATH))) {
      this.#missing(spec, record);
      return;
    }
    // Each agent runs inside a lock holder, which takes the lock and starts the command in a process group of its own.
    const child = spawn(process.execPath, ['--enable-source-maps', holderScript], {
      cwd: settings.root,
      env: { ...process.env, AGENT_NAME: spec.name },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // What the agent prints (a library's warning, say) goes to its log too, a line at a time: holding the file
    // open would leave the agent writing into a rotated-away file.
    const log = openAgentLog(this.#agent.settings.logsDir, spec.name, child.pid);
    for (const stream of [child.stdout, child.stderr]) readline.createInterface({ input: stream! }).on('line', log);
    const started = { child, startedAt: Date.now() };
    this.#children.set(spec.name, started);
    this.#set(record, 'starting', child.pid ?? null);
    this.#agent.log(`${spec.name}: started pid ${child.pid}`);
    child.once('exit', (code, signal) => {
      this.#retired.delete(child);
      if (this.#children.get(spec.name) !== started) return; // a replaced process: its exit changes nothing
      this.#children.delete(spec.name);
      // Until #exited has read desired.json, no round may start it again (that would skip the back-off).
      this.#set(record, 'restarting', null);
      record.nextRestartAt = new Date(Date.now() + 60_000).toISOString();
      void this.#exited(spec, record, { code, signal }, Date.now() - started.startedAt);
    });
  }

  async #exited(spec: AgentSpec, record: AgentRecord, exit: { code: number | null; signal: string | null }, ranForMs: number): Promise<void> {
    record.lastExit = { ...exit, at: now() };
    const wanted = (await readDesired(this.#files.desired)).agents[spec.name]?.run === true;
    const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
    if (!wanted || this.#agent.signal.aborted) {
      this.#agent.log(`${spec.name}: exited (${how}), not restarted: it is not wanted`);
      this.#set(record, 'stopped', null);
    } else if (exit.code === exitCodes.commandMissing) {
      this.#missing(spec, record);
    } else if (exit.code === exitCodes.alreadyRunning || exit.code === exitCodes.lockLost) {
      this.#agent.log(`${spec.name}: exited (${how}): another process holds its lock`);
      this.#set(record, 'starting', null);
    } else {
      this.#crashed(spec, record, exit, ranForMs);
    }
    await this.#save();
    this.#waker.wake();
  }

  #missing(spec: AgentSpec, record: AgentRecord): void {
    const what = spec.kind === 'service' ? 'service' : 'agent';
    record.reason = `its command ${spec.command[0]} was not found (from ${spec.cwd}, on PATH)`;
    if (record.state === 'skipped' || record.state === 'failed') return;
    if (spec.optional) {
      this.#agent.log(`${spec.name}: ${record.reason}: an optional ${what}, skipped`);
      void this.#agent.audit('skipped', `${spec.name} skipped: ${record.reason}`, { agent: spec.name });
      this.#set(record, 'skipped', null);
    } else {
      this.#agent.log(`${spec.name}: ${record.reason}: left stopped as failed`);
      void this.#agent.audit('failed', `${spec.name} failed: ${record.reason}`, { agent: spec.name });
      this.#set(record, 'failed', null);
    }
  }

  #crashed(spec: AgentSpec, record: AgentRecord, exit: { code: number | null; signal: string | null }, ranForMs: number): void {
    record.crashesInARow = crashesInARow(record.crashesInARow, ranForMs, spec.restart);
    const next = afterCrash(record.crashesInARow, spec.restart);
    const how = exit.signal ? `signal ${exit.signal}` : exit.code === null ? 'its process vanished' : `code ${exit.code}`;
    if (next.action === 'give-up') {
      record.reason = `it crashed ${record.crashesInARow} times in a row (last: ${how})`;
      this.#agent.log(`${spec.name}: ${record.reason}: left stopped as failed; \`mh start ${spec.name}\` tries again`);
      void this.#agent.audit('failed', `${spec.name} failed: ${record.reason}`, { agent: spec.name });
      this.#set(record, 'failed', null);
      return;
    }
    record.restarts += 1;
    record.nextRestartAt = new Date(Date.now() + next.delayMs).toISOString();
    this.#agent.log(`${spec.name}: crashed (${how}); restart ${record.restarts} in ${next.delayMs} ms`);
    void this.#agent.audit('restart', `${spec.name} crashed (${how}); restart ${record.restarts} in ${next.delayMs} ms`, { agent: spec.name, restarts: record.restarts });
    this.#set(record, 'restarting', null);
  }

  #set(record: AgentRecord, state: AgentRecord['state'], pid: number | null = record.pid): void {
    if (record.state !== state || record.pid !== pid) record.since = now();
    record.state = state;
    record.pid = pid;
    if (state !== 'restarting') delete record.nextRestartAt;
    if (state !== 'failed' && state !== 'skipped') delete record.reason;
  }

  async #save(): Promise<void> {
    const record: SupervisorRecord = { pid: process.pid, updatedAt: now(), agents: Object.fromEntries(this.#records) };
    try {
      await writeSupervisorRecord(this.#files.supervisor, record);
      if (this.#saveFailing) this.#agent.log(`${this.#files.supervisor} written again`);
      this.#saveFailing = false;
    } catch (error) {
      // A full disk (ENOSPC) must not end the supervisor: the agents still need it. The record is
      // written whole each round, so the next round's try brings it up to date.
      if (!this.#saveFailing) process.stderr.write(`supervisor: could not write ${this.#files.supervisor} (tried again each round): ${(error as Error).message}\n`);
      this.#saveFailing = true;
    }
  }

  /** On the supervisor's own stop: SIGTERM to every agent it started, SIGKILL to any still there after the stale window. */
  async #stopChildren(): Promise<void> {
    const children = [...[...this.#children.values()].map((running) => running.child), ...this.#retired];
    if (children.length === 0) return;
    this.#agent.log(`stopping ${children.length} agent process(es)`);
    const exits = children.map((child) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()))));
    for (const child of children) child.kill('SIGTERM');
    const timer = setTimeout(() => children.forEach((child) => child.kill('SIGKILL')), this.#agent.settings.lockStaleMs);
    await Promise.all(exits);
    clearTimeout(timer);
    for (const record of this.#records.values()) if (record.state !== 'failed') this.#set(record, 'stopped', null);
    await this.#save();
  }
}

/** Whether `pid` is a live lock holder process (pids are reused: its command line must say so). */
function isLiveHolder(pid: number): boolean {
  return isAlive(pid) && !isZombie(pid) && (commandLine(pid) ?? '').includes(holderScript);
}

function now(): string {
  return new Date().toISOString();
}
