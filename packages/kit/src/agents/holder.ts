import { spawn } from 'node:child_process';
import os from 'node:os';
import readline from 'node:readline';
import { readSettings, stackOf, startTicks, withSecrets, type Settings } from '../core/index.cjs';
import { openAgentLog } from './agent-log.js';
import { commandPath, findExecutable } from './command-path.js';
import { exitCodes } from './exit-codes.js';
import { keepLease, waitForLease, type KeptLease } from './lease-keeper.js';
import { acquireLock, inspectLock, LockHeldError, lockPaths, type ChildRecord, type HeldLock } from './lock.js';
import { endGroup, signalGroup } from './process-group.js';
import { loadAgents, pickAgents, type AgentSpec } from './registry.js';
import { LeaseClient, type Lease } from './redis-lease.js';
import { reviveSupervisor } from './revive.js';

/** How often a holder looks whether the supervisor is still there (jittered, so that holders do not all look at once). */
const SUPERVISOR_CHECK_MS = 2000;

/**
 * The small process that makes any command a singleton: it takes the
 * agent's proper-lockfile lock, starts the command in a process group of
 * its own, keeps the lock fresh while the command lives, and releases it
 * when the command exits. The command needs no change and no import of the
 * kit. A holder that takes over from a frozen one first ends the frozen
 * one's command (its process group, after checking its pid and start time),
 * so two copies never act at once.
 */
export async function runHolder(name: string): Promise<never> {
  const settings = readSettings();
  const log = openAgentLog(settings.logsDir, name);
  // Detached from any terminal: a SIGHUP must not end it; output to a closed pipe (its supervisor gone) is no reason to die.
  process.on('SIGHUP', () => undefined);
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

  let spec: AgentSpec;
  try {
    [spec] = pickAgents(await loadAgents(settings.agentsConfig), [name]) as [AgentSpec];
  } catch (error) {
    log(`not started: ${(error as Error).message}`);
    process.exit(exitCodes.crashed);
  }
  const paths = lockPaths(settings.agentsLocksDir, name);
  const before = await inspectLock(paths, settings.lockStaleMs);

  let child: ChildRecord | undefined;
  let lock: HeldLock;
  let stopping = false;
  let lockLost = false;
  const lost = (reason: string) => void onLost(reason);
  try {
    lock = await acquireLock({ paths, name, staleMs: settings.lockStaleMs, onLost: lost, holder: true });
  } catch (error) {
    log(`not started: ${error instanceof LockHeldError ? `the lock is ${error.message}` : (error as Error).message}`);
    process.exit(error instanceof LockHeldError ? exitCodes.alreadyRunning : exitCodes.crashed);
  }

  // A frozen (or dead) holder's command may still be running: it must be gone before ours starts.
  const predecessor = before.kind === 'stale' || before.kind === 'abandoned' ? before.owner : undefined;
  const previous = predecessor?.host === os.hostname() ? predecessor.child : undefined;
  if (previous) {
    const outcome = await endGroup(previous, spec.stopTimeoutMs);
    if (outcome !== 'gone') log(`ended the previous holder's command (pid ${previous.pid}: ${outcome}) before starting a new one`);
  }

  const watch = watchSupervisor(settings, name);
  // With Redis, the agent runs on one host of the whole deployment: after the lock of this host, the cluster-wide lease.
  const cluster = settings.eventsBackend === 'redis' && settings.redisUrl ? await takeClusterLease() : undefined;
  let kept: KeptLease | undefined;

  const env: NodeJS.ProcessEnv = {
    // The secrets too (an agent command may read EVENTS_TOKEN itself): a command that started the kit may have moved them into LOGS_DIR/run/secrets.json.
    ...withSecrets(process.env, settings.logsDir),
    ...spec.env,
    PATH: commandPath(settings.root, spec.env.PATH ?? process.env.PATH),
    AGENT_NAME: name,
    // An agent that uses runAgent checks this token against the lock before each unit of work.
    ASTRO_CLUSTER_LOCK_TOKEN: lock.owner.token,
    // And, with Redis, against the cluster-wide lease (its value holds the fencing number).
    ...(cluster && { ASTRO_CLUSTER_LEASE: cluster.lease.value }),
  };
  const executable = findExecutable(spec.command[0]!, spec.cwd, env.PATH!);
  if (!executable) {
    log(`not started: its command ${spec.command[0]} was not found (from ${spec.cwd}, on PATH)`);
    await cluster?.client.release(cluster.lease).catch(() => false);
    await lock.release();
    process.exit(exitCodes.commandMissing);
  }
  const proc = spawn(executable, spec.command.slice(1), { cwd: spec.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  if (cluster) kept = keepLease(cluster.client, cluster.lease, settings.lockLeaseMs, leaseLost);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
    proc.once('error', (error) => {
      log(`could not start ${spec.command.join(' ')}: ${error.message}`);
      resolve({ code: exitCodes.crashed, signal: null });
    });
  });
  if (proc.pid !== undefined) {
    child = { pid: proc.pid, startTicks: startTicks(proc.pid) ?? null, command: spec.command.join(' ') };
    await lock.setChild(child);
    log(`started ${child.command} (pid ${child.pid}, lock ${paths.dir})`);
    const output = openAgentLog(settings.logsDir, name, proc.pid);
    for (const stream of [proc.stdout, proc.stderr]) readline.createInterface({ input: stream! }).on('line', output);
  }

  const stop = (why: string) => {
    if (stopping || !child) return;
    stopping = true;
    log(`${why}: stopping ${name} (pid ${child.pid})`);
    void endGroup(child, spec.stopTimeoutMs);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('uncaughtException', (error) => {
    log(`holder crashed: ${stackOf(error)}`);
    if (child) signalGroup(child, 'SIGKILL');
    process.exit(exitCodes.crashed);
  });

  const { code, signal } = await exited;
  clearTimeout(watch());
  kept?.stop();
  // Released only while still ours (the script checks): a lost lease may be another host's by now.
  if (cluster && !lockLost) await cluster.client.release(cluster.lease).catch(() => false);
  cluster?.client.close();
  // Whatever the command left behind in its group goes with it.
  if (child) killGroupRemains(child.pid);
  await lock.release();
  const how = signal ? `signal ${signal}` : `code ${code}`;
  log(`${name} exited (${how})`);
  if (lockLost) process.exit(exitCodes.lockLost);
  if (stopping || code === 0) process.exit(exitCodes.stopped);
  // The supervisor sees the command's own end: the same signal (SIGKILL by the OOM killer, say), or the same code.
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exit(code === null || code === exitCodes.commandMissing ? exitCodes.crashed : code);

  /**
   * Waits (on standby, while another host holds it) for the agent's lease in
   * Redis. A stop while waiting ends the holder without starting anything.
   */
  async function takeClusterLease(): Promise<{ client: LeaseClient; lease: Lease }> {
    const client = new LeaseClient(settings.redisUrl!, Math.max(250, Math.floor(settings.lockLeaseMs / 4)));
    const standbyEnds = new AbortController();
    const quit = () => standbyEnds.abort();
    process.once('SIGTERM', quit);
    process.once('SIGINT', quit);
    const lease = await waitForLease({
      client,
      name,
      owner: { host: settings.hostName, pid: process.pid, logsDir: settings.logsDir, since: '' },
      token: lock.owner.token,
      leaseMs: settings.lockLeaseMs,
      signal: standbyEnds.signal,
      log,
      onStandby: (standby) => void lock.note({ standby: { ...standby, since: new Date().toISOString() } }).catch(() => undefined),
    });
    process.off('SIGTERM', quit);
    process.off('SIGINT', quit);
    if (!lease) {
      clearTimeout(watch());
      client.close();
      await lock.release();
      log(`stopped while on standby`);
      process.exit(exitCodes.stopped);
    }
    await lock.note({ lease: { fence: lease.fence, since: lease.owner.since } }).catch(() => undefined);
    return { client, lease };
  }

  /** The lease is gone (Redis said so, or could not confirm it in time): another host may run the agent now, so ours ends at once. */
  function leaseLost(reason: string): void {
    if (lockLost) return;
    stopping = true;
    lockLost = true;
    log(`cluster-wide lease lost (${reason}): ending ${name} without waiting`);
    if (child) signalGroup(child, 'SIGKILL');
  }

  async function onLost(reason: string): Promise<void> {
    if (stopping) return;
    // Someone removed the lock folder: nobody else holds it, so take it again under the same token.
    if ((await inspectLock(paths, settings.lockStaleMs)).kind === 'free') {
      try {
        lock = await acquireLock({ paths, name, staleMs: settings.lockStaleMs, onLost: lost, holder: true, token: lock.owner.token, ...(child && { child }) });
        log(`the lock folder vanished (${reason}): took the lock again`);
        return;
      } catch (error) {
        reason = `${reason}; taking it again failed: ${(error as Error).message}`;
      }
    }
    // Another holder took over: never two copies acting, so ours ends at once.
    stopping = true;
    lockLost = true;
    log(`lock lost (${reason}): ending ${name} without waiting`);
    if (child) signalGroup(child, 'SIGKILL');
  }
}

/**
 * Every holder watches the supervisor: one that was SIGKILLed is started
 * again (as a lock-guarded singleton, so several holders reviving it at once
 * still give one). Returns the function that gives the current timer.
 */
function watchSupervisor(settings: Settings, name: string): () => NodeJS.Timeout {
  let timer: NodeJS.Timeout;
  const schedule = () => {
    timer = setTimeout(() => {
      void reviveSupervisor(settings, name).catch(() => undefined).finally(schedule);
    }, SUPERVISOR_CHECK_MS + Math.random() * SUPERVISOR_CHECK_MS);
    timer.unref();
  };
  schedule();
  return () => timer;
}

function killGroupRemains(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // The group is empty: nothing was left.
  }
}
