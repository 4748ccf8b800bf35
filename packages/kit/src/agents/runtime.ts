import { describe, readSettings, stackOf, type Settings } from '../core/index.cjs';
import { audit, openEventLog, type EventLog } from '../events/index.js';
import { openAgentLog } from './agent-log.js';
import { exitCodes } from './exit-codes.js';
import { leaseGuard } from './lease-check.js';
import { acquireLock, holdsLock, LockHeldError, lockPaths, readOwner, type HeldLock, type LockPaths } from './lock.js';
import { createWaker, type Waker } from './waker.js';

export interface AgentContext {
  readonly name: string;
  readonly settings: Settings;
  /** Aborted when the agent is asked to stop (SIGTERM, SIGINT). */
  readonly signal: AbortSignal;
  log(line: string): void;
  /** The shared event log (opened on first use). */
  readonly events: EventLog;
  /** Reports on the `audit` topic, as this agent; a failure to report is logged, never thrown. */
  audit(kind: string, message: string, details?: Record<string, unknown>): Promise<void>;
  /**
   * Runs one unit of work, and only after checking that the lock is still
   * ours: a holder that was frozen past the stale window and resumed exits
   * here without acting. A stop waits for the unit in progress.
   */
  unit<T>(work: () => Promise<T>): Promise<T>;
  /**
   * The same check as unit() makes, for a step inside a long unit (each
   * token of a task, say): returns when the lock is still ours, exits the
   * process without acting otherwise.
   */
  checkLock(): Promise<void>;
  /** With Redis, the fencing number of the cluster-wide lease this agent runs under (it grows with each new owner); undefined otherwise. */
  readonly fence: number | undefined;
  /** Waits `ms`, or less when asked to stop; false once stopping. */
  sleep(ms: number): Promise<boolean>;
  /** A wait that `wake()` cuts short (new work arrived), ending too when the agent is asked to stop. */
  waker(): Waker;
}

type AgentBody = (agent: AgentContext) => Promise<void>;

/**
 * The life of an agent that wants to check its lock before each unit of
 * work. Under `astro-cluster agents` its name comes from the config
 * (AGENT_NAME) and the kit's lock holder holds the lock: each unit first
 * checks that the lock is still the holder's. Run by hand, it takes the lock
 * itself (exit at once when another process holds it), keeps it fresh, and
 * exits without acting if it is lost. On SIGTERM/SIGINT it finishes the
 * current unit of work, releases and exits. Logs go to
 * LOGS_DIR/agents/NAME.log with timestamps.
 */
export async function runAgent(body: AgentBody): Promise<never>;
/** The same, named in the code as well: the name must then match the config's. */
export async function runAgent(name: string, body: AgentBody): Promise<never>;
export async function runAgent(first: string | AgentBody, second?: AgentBody): Promise<never> {
  const body = (typeof first === 'function' ? first : second) as AgentBody;
  const fromEnv = process.env.AGENT_NAME;
  const name = typeof first === 'string' ? first : fromEnv;
  if (!name || (typeof first === 'string' && fromEnv && fromEnv !== first)) {
    const problem = name ? `this agent calls itself ${first} but the config names it ${fromEnv}` : 'it has no name: AGENT_NAME is not set';
    console.error(`${problem}. Start it with \`astro-cluster agents start NAME\` (its name comes from agents.list), or by hand with AGENT_NAME=NAME.`);
    process.exit(exitCodes.crashed);
  }
  const settings = readSettings();
  const log = openAgentLog(settings.logsDir, name);
  const paths = lockPaths(settings.agentsLocksDir, name);
  // Agents run detached from any terminal: a SIGHUP (the supervisor's "look now") must not end them.
  process.on('SIGHUP', () => undefined);
  // Whatever escapes goes to the agent's log, not to a stdout nobody reads; then the agent exits as crashed.
  const fatal = (error: unknown) => {
    log(`crashed: ${stackOf(error)}`);
    process.exit(exitCodes.crashed);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  // Output to a closed pipe (its supervisor gone) is no reason to die.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  const lost = (reason: string): never => {
    log(`lock lost (${reason}): exiting without acting`);
    process.exit(exitCodes.lockLost);
  };

  // Under the kit's lock holder the lock is the holder's: this agent only checks it.
  const token = process.env.ASTRO_CLUSTER_LOCK_TOKEN;
  let lock: Pick<HeldLock, 'verify' | 'release'> & { owner?: HeldLock['owner'] };
  try {
    lock = token
      ? { verify: () => holdsLock(paths, token, settings.lockStaleMs), release: async () => undefined }
      : await acquireLock({ paths, name, staleMs: settings.lockStaleMs, onLost: lost });
  } catch (error) {
    if (error instanceof LockHeldError) {
      log(`not started: the lock is ${error.message}`);
      console.error(`${name} already running (${error.message})`);
      process.exit(exitCodes.alreadyRunning);
    }
    log(`not started: ${(error as Error).message}`);
    console.error(`${name}: ${(error as Error).message}`);
    process.exit(exitCodes.crashed);
  }
  // With Redis, the holder also took the cluster-wide lease: each unit checks it too, fencing number and all.
  const leaseValue = process.env.ASTRO_CLUSTER_LEASE;
  const lease = token && leaseValue && settings.redisUrl ? leaseGuard(name, leaseValue, settings.redisUrl, settings.lockLeaseMs) : undefined;
  if (token && leaseValue && !lease) lost('ASTRO_CLUSTER_LEASE is not a lease of this kit');
  log(
    lease
      ? `started under the kit's lock holder (lock ${paths.dir}; cluster-wide Redis lease, fence ${lease.lease.fence})`
      : token
        ? `started under the kit's lock holder (lock ${paths.dir})`
        : `started (lock ${paths.dir})`,
  );
  const checkLock = async () => {
    const ours = token ?? lock.owner?.token;
    if (!lock.verify() && !(ours && (await regained(paths, ours, settings.lockStaleMs)))) lost('no longer ours or not fresh');
    if (lease && !(await lease.holds())) lost('the cluster-wide lease is no longer ours, or Redis cannot confirm it');
  };

  const controller = new AbortController();
  const stop = (signal: string) => {
    if (controller.signal.aborted) return;
    log(`${signal}: stopping after the current unit of work`);
    controller.abort();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  let inFlight: Promise<unknown> | undefined;
  let events: EventLog | undefined;
  const agent: AgentContext = {
    name,
    settings,
    signal: controller.signal,
    log,
    get events() {
      return (events ??= openEventLog(settings));
    },
    async audit(kind, message, details = {}) {
      const failed = await audit(agent.events, { source: name, kind, message, pid: process.pid, ...details });
      if (failed) log(`could not report on the audit topic: ${failed.message}`);
    },
    checkLock,
    fence: lease?.lease.fence,
    async unit(work) {
      await checkLock();
      const pending = work();
      inFlight = pending;
      try {
        return await pending;
      } finally {
        inFlight = undefined;
      }
    },
    sleep: (ms) => createWaker(controller.signal).wait(ms),
    waker: () => createWaker(controller.signal),
  };

  await agent.audit('started', `${name} started (pid ${process.pid})`);
  try {
    await body(agent);
    await inFlight;
  } catch (error) {
    log(`crashed: ${stackOf(error)}`);
    await agent.audit('crashed', `${name} crashed: ${describe(error)}`);
    await lock.release();
    process.exit(exitCodes.crashed);
  }
  await lock.release();
  lease?.close();
  log('stopped');
  await agent.audit('stopped', `${name} stopped`);
  await events?.close();
  process.exit(exitCodes.stopped);
}

/**
 * A lock that fails the check may come back: under a lock holder, a lock
 * whose folder vanished (someone removed the locks folder) is taken again by
 * the holder at its next refresh, under the same token; and a process that
 * was frozen (a whole host paused for a few seconds) finds its lock not
 * fresh until proper-lockfile refreshes it, right after it resumes, unless
 * another process took it over meanwhile. Waits up to half the stale window
 * for that; any other owner, or none by then, means it is lost.
 */
async function regained(paths: LockPaths, token: string, staleMs: number): Promise<boolean> {
  const deadline = Date.now() + staleMs / 2;
  while (Date.now() < deadline) {
    if (holdsLock(paths, token, staleMs)) return true;
    const owner = await readOwner(paths.owner).catch(() => undefined);
    if (owner && owner.token !== token) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}
