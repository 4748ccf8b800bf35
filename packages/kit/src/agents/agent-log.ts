import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { logPaths } from '../core/index.cjs';

export function agentLogFile(logsDir: string, name: string): string {
  return path.join(logPaths(logsDir).agents, `${name}.log`);
}

/**
 * Appends timestamped lines to LOGS_DIR/agents/NAME.log, as process `pid`.
 * Each line is one append that opens and closes the file, so rotating the
 * log never leaves a process writing into a file that was moved away.
 */
export function openAgentLog(logsDir: string, name: string, pid: number | undefined = process.pid): (line: string) => void {
  const file = agentLogFile(logsDir, name);
  const echo = pid === process.pid && process.stdout.isTTY === true;
  // A log line that cannot be written (a full disk: ENOSPC) is lost, never fatal: the agent and the
  // supervisor go on, and the next line is tried again. The failure is said once on stderr per streak.
  let failing = false;
  const append = (text: string) => {
    try {
      appendFileSync(file, text);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      // The folder is gone (removed, or never made on a full disk): made again, then one more try.
      mkdirSync(path.dirname(file), { recursive: true });
      appendFileSync(file, text);
    }
  };
  try {
    mkdirSync(path.dirname(file), { recursive: true });
  } catch {
    // Tried again on the first line.
  }
  return (line) => {
    const text = `${new Date().toISOString()} [pid ${pid}] ${line}\n`;
    try {
      append(text);
      if (failing) {
        failing = false;
        process.stderr.write(`${file}: writable again\n`);
      }
    } catch (error) {
      if (!failing) {
        failing = true;
        process.stderr.write(`${file}: log lines are lost until it can be written again: ${(error as Error).message}\n`);
      }
    }
    if (echo) process.stdout.write(text);
  };
}
