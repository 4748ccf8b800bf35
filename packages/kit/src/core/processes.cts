import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/**
 * Facts about other processes, read from /proc. Pids are reused, so anything
 * that signals a process by a recorded pid checks its start time first.
 */

/** True when a process with this pid exists (ours to signal or not). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True for a process that has exited but is not reaped yet (its parent is busy, or frozen): dead for every purpose. */
export function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** When the process started, in clock ticks since boot; undefined when it is gone. */
export function startTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

/** The process's command line as one string; undefined when it is gone. */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return undefined;
  }
}

/** The pid of the process listening on a TCP port, when /proc lets us see it. */
export function listeningPid(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      // State 0A is LISTEN.
      if (local && cols[3] === '0A' && parseInt(local.split(':')[1] ?? '', 16) === port && cols[9]) inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  return pidsHolding((target) => inodes.has(/^socket:\[(\d+)\]$/.exec(target)?.[1] ?? ''), true)[0];
}

/**
 * Pids of the processes with a file descriptor open on something `matches`
 * accepts (the target of a /proc/PID/fd link: a path, or `socket:[inode]`).
 */
export function pidsHolding(matches: (target: string) => boolean, firstOnly = false): number[] {
  const pids: number[] = [];
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    for (const fd of safeReaddir(`/proc/${entry}/fd`)) {
      try {
        if (!matches(readlinkSync(`/proc/${entry}/fd/${fd}`))) continue;
        pids.push(Number(entry));
        if (firstOnly) return pids;
        break;
      } catch {
        // The process or descriptor went away while we looked.
      }
    }
  }
  return pids;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
