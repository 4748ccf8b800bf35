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
  mkdirSync(path.dirname(file), { recursive: true });
  const echo = pid === process.pid && process.stdout.isTTY === true;
  return (line) => {
    const text = `${new Date().toISOString()} [pid ${pid}] ${line}\n`;
    appendFileSync(file, text);
    if (echo) process.stdout.write(text);
  };
}
