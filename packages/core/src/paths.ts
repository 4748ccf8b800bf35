import os from 'node:os';
import path from 'node:path';

/** The kit's checkout: packages/core/dist/paths.js is three levels below it. */
export const kitRoot = path.resolve(__dirname, '..', '..', '..');

/** Where PM2 keeps its daemon files, as PM2 itself resolves it. */
export function pm2Home(env: NodeJS.ProcessEnv = process.env): string {
  return env.PM2_HOME ? path.resolve(env.PM2_HOME) : path.join(os.homedir(), '.pm2');
}

/** Files the kit writes under LOGS_DIR, named in one place. */
export function logPaths(logsDir: string) {
  return {
    pm2: path.join(logsDir, 'pm2'),
    pm2Pids: path.join(logsDir, 'pm2', 'pids'),
    agents: path.join(logsDir, 'agents'),
    run: path.join(logsDir, 'run'),
    locks: path.join(logsDir, 'run', 'locks'),
    agentState: path.join(logsDir, 'run', 'agents'),
    events: path.join(logsDir, 'run', 'events'),
    bench: path.join(logsDir, 'bench'),
  };
}

/** PM2's log files for an app started by the kit (merged over all instances). */
export function appLogFiles(logsDir: string, app: string) {
  const dir = logPaths(logsDir).pm2;
  return { out: path.join(dir, `${app}-out.log`), error: path.join(dir, `${app}-error.log`) };
}
