import { randomBytes } from 'node:crypto';
import fs, { readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rmdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { errors, isAlive, startTicks, writeFileAtomic } from '../core/index.cjs';

/**
 * One agent's lock, on proper-lockfile: a directory created with mkdir (atomic)
 * and kept fresh by touching its mtime. Beside it, the owner file says who
 * holds it, so that a holder that died on this host can be replaced at once
 * instead of after the stale window, and so that `mh stop` can tell the pid
 * it signals is still that agent (pids are reused).
 */
export interface LockOwner {
  name: string;
  pid: number;
  host: string;
  startedAt: string;
  /** Start time of the process in clock ticks since boot: with pid, identifies it across pid reuse. */
  startTicks: number | null;
  command: string;
  /** Random per acquisition: tells this holder's owner file from the next one's. */
  token: string;
  /** Set when the owner is the kit's lock holder (it records the command it starts in `child`). */
  holder?: true | undefined;
  /** The agent's command, when the holder is the kit's lock holder: what a takeover must end first. */
  child?: ChildRecord | undefined;
  /** With Redis: the holder waits while another host holds the agent's cluster-wide lease (who, and why). */
  standby?: { holder: string | null; reason: string; since: string } | undefined;
  /** With Redis: the cluster-wide lease this holder holds (its fencing number). */
  lease?: { fence: number; since: string } | undefined;
}

/** A process started by a lock holder, in a process group of its own (its pid is the group's id). */
export interface ChildRecord {
  pid: number;
  startTicks: number | null;
  command: string;
}

export interface LockPaths {
  /** The lock itself (a directory while held). */
  dir: string;
  /** Who holds or last held it (JSON). */
  owner: string;
  /** A short-lived second lock that serialises takeovers. */
  guard: string;
}

/** The lock of the agent `name`, in the kit's locks folder (agents.locksDir, default LOGS_DIR/run/kit-locks). */
export function lockPaths(locksDir: string, name: string): LockPaths {
  return {
    dir: path.join(locksDir, `${name}.lock`),
    owner: path.join(locksDir, `${name}.owner.json`),
    guard: path.join(locksDir, `${name}.guard`),
  };
}

export type LockState =
  /** Nobody holds it. */
  | { kind: 'free' }
  /** Held and kept fresh; on this host the owner process is alive. */
  | { kind: 'held'; owner: LockOwner; ageMs: number }
  /** The owner on this host is gone (or its pid now belongs to another process): take it at once. */
  | { kind: 'abandoned'; owner: LockOwner; ageMs: number }
  /** Not refreshed within the stale window: its holder is frozen or gone. */
  | { kind: 'stale'; owner?: LockOwner; ageMs: number }
  /** Held and fresh, but the owner file is missing or corrupt: only the stale window can free it. */
  | { kind: 'unknown-owner'; reason: string; ageMs: number }
  /** Something that is not a lock directory sits at the lock's path. */
  | { kind: 'unusable'; reason: string };

export async function inspectLock(paths: LockPaths, staleMs: number): Promise<LockState> {
  let info;
  try {
    info = await stat(paths.dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return { kind: 'unusable', reason: (error as Error).message };
    return { kind: 'free' };
  }
  if (!info.isDirectory()) return { kind: 'unusable', reason: 'it is a file, not a lock directory' };
  const ageMs = Math.max(0, Date.now() - info.mtimeMs);
  let owner: LockOwner;
  try {
    owner = await readOwner(paths.owner);
  } catch (error) {
    const reason = `owner file ${paths.owner}: ${(error as Error).message}`;
    return ageMs > staleMs ? { kind: 'stale', ageMs } : { kind: 'unknown-owner', reason, ageMs };
  }
  if (owner.host === os.hostname() && !isSameProcess(owner)) return { kind: 'abandoned', owner, ageMs };
  if (ageMs > staleMs) return { kind: 'stale', owner, ageMs };
  return { kind: 'held', owner, ageMs };
}

/** True when the owner's pid still names the very process that took the lock. */
export function isSameProcess(owner: Pick<LockOwner, 'pid' | 'startTicks'>): boolean {
  if (!isAlive(owner.pid)) return false;
  return owner.startTicks === null || startTicks(owner.pid) === owner.startTicks;
}

export class LockHeldError extends Error {
  constructor(readonly state: LockState) {
    super(describeHolder(state));
  }
}

export function describeHolder(state: LockState): string {
  switch (state.kind) {
    case 'held':
      return `held by pid ${state.owner.pid}${state.owner.host === os.hostname() ? '' : ` on ${state.owner.host}`}`;
    case 'unknown-owner':
      return `held by an unknown process (${state.reason})`;
    case 'unusable':
      return `unusable: ${state.reason}`;
    default:
      return state.kind;
  }
}

export interface HeldLock {
  readonly paths: LockPaths;
  readonly owner: LockOwner;
  /**
   * Checks, synchronously and from the files, that the lock is still ours and
   * fresh enough that nobody can take it over for at least half the stale
   * window: call it right before acting.
   */
  verify(): boolean;
  /** Records the command the holder started (its pid is its process group), for `status` and for the next holder. */
  setChild(child: ChildRecord): Promise<void>;
  /** Records the holder's standby or its cluster-wide lease (with Redis), for `status`. */
  note(fields: Pick<LockOwner, 'standby' | 'lease'>): Promise<void>;
  release(): Promise<void>;
}

export interface AcquireOptions {
  paths: LockPaths;
  name: string;
  staleMs: number;
  /** Called at most once, when proper-lockfile finds the lock compromised. */
  onLost: (reason: string) => void;
  /** Take it again under this token (a holder whose lock folder vanished: its command already knows the token). */
  token?: string;
  /** The holder's command, already running, to record at once. */
  child?: ChildRecord;
  /** The owner is a lock holder, which records its command once started. */
  holder?: boolean;
}

/**
 * Takes the lock or throws LockHeldError. A lock left by a dead process on
 * this host is taken at once; a stale one (frozen holder) after the stale
 * window. All takeovers go through the guard, so two contenders can never
 * both remove a lock and both believe they hold it.
 */
export async function acquireLock(options: AcquireOptions): Promise<HeldLock> {
  const { paths, staleMs } = options;
  await mkdir(path.dirname(paths.dir), { recursive: true });
  return withGuard(paths.guard, async () => {
    const state = await inspectLock(paths, staleMs);
    if (state.kind === 'unusable') throw errors.lockUnusable(paths.dir, state.reason);
    if (state.kind === 'held' || state.kind === 'unknown-owner') throw new LockHeldError(state);
    if (state.kind === 'abandoned') await removeLockDir(paths);

    let lost = false;
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(paths.owner, {
        lockfilePath: paths.dir,
        realpath: false,
        // proper-lockfile removes its locks on exit and on release without asking whose they are now:
        // once ours is lost, it must never remove the directory of the process that took it over.
        fs: guardedFs(() => lost),
        stale: staleMs,
        // Refreshed at least twice within half the window, so a live holder's lock always passes verify().
        update: Math.max(1000, Math.floor(staleMs / 5)),
        onCompromised: (error) => {
          if (lost) return;
          lost = true;
          options.onLost(error.message);
        },
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ELOCKED') throw new LockHeldError(await inspectLock(paths, staleMs));
      throw errors.lockUnusable(paths.dir, (error as Error).message);
    }

    const owner: LockOwner = {
      name: options.name,
      pid: process.pid,
      host: os.hostname(),
      startedAt: new Date().toISOString(),
      startTicks: startTicks(process.pid) ?? null,
      command: process.argv.join(' '),
      token: options.token ?? randomBytes(8).toString('hex'),
      ...(options.holder && { holder: true as const }),
      ...(options.child && { child: options.child }),
    };
    await writeFileAtomic(paths.owner, `${JSON.stringify(owner, null, 2)}\n`);

    return {
      paths,
      owner,
      async setChild(child) {
        owner.child = child;
        if (!lost && ownsRecord(paths.owner, owner.token)) await writeFileAtomic(paths.owner, `${JSON.stringify(owner, null, 2)}\n`);
      },
      async note(fields) {
        owner.standby = fields.standby;
        owner.lease = fields.lease;
        if (!lost && ownsRecord(paths.owner, owner.token)) await writeFileAtomic(paths.owner, `${JSON.stringify(owner, null, 2)}\n`);
      },
      verify() {
        // Not latched: a process frozen for a while that nobody replaced holds its lock again once proper-lockfile
        // refreshes it (a takeover changes the owner's token, or makes proper-lockfile report the lock compromised).
        return !lost && holdsLock(paths, owner.token, staleMs);
      },
      async release() {
        if (lost) return;
        if (!ownsRecord(paths.owner, owner.token)) {
          lost = true;
          return;
        }
        await release().catch(() => undefined);
        lost = true;
      },
    };
  });
}

/**
 * Removes a lock whose holder is verifiably dead on this host (after a
 * SIGKILL nobody released it). Refuses anything else.
 */
export async function removeAbandonedLock(paths: LockPaths, staleMs: number): Promise<boolean> {
  return withGuard(paths.guard, async () => {
    const state = await inspectLock(paths, staleMs);
    if (state.kind !== 'abandoned') return false;
    await removeLockDir(paths);
    return true;
  });
}

export async function readOwner(file: string): Promise<LockOwner> {
  const data = JSON.parse(await readFile(file, 'utf8')) as Partial<LockOwner>;
  if (
    typeof data.pid !== 'number' ||
    !Number.isInteger(data.pid) ||
    data.pid <= 0 ||
    typeof data.host !== 'string' ||
    typeof data.startedAt !== 'string' ||
    typeof data.token !== 'string'
  ) {
    throw new Error('not an owner record of this kit');
  }
  const child = data.child as Partial<ChildRecord> | undefined;
  const standby = data.standby as Partial<NonNullable<LockOwner['standby']>> | undefined;
  const lease = data.lease as Partial<NonNullable<LockOwner['lease']>> | undefined;
  return {
    name: String(data.name ?? ''),
    pid: data.pid,
    host: data.host,
    startedAt: data.startedAt,
    startTicks: typeof data.startTicks === 'number' ? data.startTicks : null,
    command: String(data.command ?? ''),
    token: data.token,
    ...(data.holder === true && { holder: true as const }),
    ...(child && typeof child.pid === 'number' && Number.isInteger(child.pid) && child.pid > 0 && {
      child: { pid: child.pid, startTicks: typeof child.startTicks === 'number' ? child.startTicks : null, command: String(child.command ?? '') },
    }),
    ...(standby && typeof standby.reason === 'string' && {
      standby: { holder: typeof standby.holder === 'string' ? standby.holder : null, reason: standby.reason, since: String(standby.since ?? '') },
    }),
    ...(lease && typeof lease.fence === 'number' && { lease: { fence: lease.fence, since: String(lease.since ?? '') } }),
  };
}

/**
 * Whether the lock named by `paths` is still held under `token` and fresh
 * enough that nobody can take it over for at least half the stale window:
 * what an agent run by the kit's lock holder checks before each unit of work.
 */
export function holdsLock(paths: LockPaths, token: string, staleMs: number): boolean {
  try {
    return ownsRecord(paths.owner, token) && Date.now() - statSync(paths.dir).mtimeMs < staleMs / 2;
  } catch {
    return false;
  }
}

function ownsRecord(file: string, token: string): boolean {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as LockOwner).token === token;
  } catch {
    return false;
  }
}

/** Node's fs, except that removing a directory does nothing once `isLost()` says the lock is no longer ours. */
function guardedFs(isLost: () => boolean): typeof fs {
  return {
    ...fs,
    rmdir: ((dir: fs.PathLike, callback: fs.NoParamCallback) => (isLost() ? callback(null) : fs.rmdir(dir, callback))) as typeof fs.rmdir,
    rmdirSync: ((dir: fs.PathLike) => (isLost() ? undefined : fs.rmdirSync(dir))) as typeof fs.rmdirSync,
  };
}

/** Runs `body` while holding the guard lock, waiting a little for it when another takeover is in progress. */
async function withGuard<T>(guard: string, body: () => Promise<T>): Promise<T> {
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(guard, {
      lockfilePath: guard,
      realpath: false,
      stale: 5000,
      retries: { retries: 60, factor: 1.3, minTimeout: 10, maxTimeout: 250 },
      onCompromised: () => undefined,
    });
  } catch (error) {
    throw errors.lockUnusable(guard, (error as Error).message);
  }
  try {
    return await body();
  } finally {
    await release().catch(() => undefined);
  }
}

async function removeLockDir(paths: LockPaths): Promise<void> {
  try {
    await rmdir(paths.dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw errors.lockUnusable(paths.dir, (error as Error).message);
  }
}
