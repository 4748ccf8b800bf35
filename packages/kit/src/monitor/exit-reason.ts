import { open } from 'node:fs/promises';
import path from 'node:path';

/**
 * Why a PM2 process exited: PM2's bus packet carries only `exit_code`, which
 * is 0 for a process killed by a signal. The daemon writes the signal in its
 * own log (`App [name:id] exited with code [0] via signal [SIGKILL]`, from
 * God.handleExit), so it is read back from there. PM2 writes SIGINT when
 * there was no signal, so code 0 with SIGINT stays ambiguous.
 */
export interface ExitReason {
  code: number | null;
  signal: string | null;
}

const TAIL_BYTES = 64 * 1024;

export async function exitReason(pm2Home: string, name: string, pmId: string, code: number | undefined): Promise<ExitReason> {
  const line = await lastExitLine(path.join(pm2Home, 'pm2.log'), name, pmId);
  const match = line && /exited with code \[(\d+)\] via signal \[([A-Z0-9]+)\]/.exec(line);
  if (!match) return { code: code ?? null, signal: null };
  const logged = Number(match[1]);
  const signal = match[2] ?? null;
  // Code 0 "via SIGINT" is also how PM2 logs a plain exit(0).
  return { code: code ?? logged, signal: signal === 'SIGINT' && (code ?? logged) !== 0 ? null : signal };
}

/** How an exit reads in the audit log. */
export function describeExit(reason: ExitReason): string {
  if (reason.signal && reason.signal !== 'SIGINT') return `was killed by signal ${reason.signal}`;
  if (reason.code !== null && reason.code !== 0) return `exited with code ${reason.code}`;
  return reason.signal === 'SIGINT' ? 'exited with code 0 (or by SIGINT)' : `exited with code ${reason.code ?? '?'}`;
}

async function lastExitLine(file: string, name: string, pmId: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(file, 'r');
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const marker = `App [${name}:${pmId}] exited with code`;
    return buffer.toString('utf8').split('\n').reverse().find((l) => l.includes(marker));
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}
