// The PM2 app of the web cluster, built from the settings. A project's
// ecosystem.config.js (written by `astro-cluster init`) is one line over it:
//
//   module.exports = require('astro-cluster-kit/ecosystem').ecosystem(__dirname);
//
// CommonJS on purpose: PM2 loads ecosystem files with require(), on any Node.
import path from 'node:path';
import { appLogFiles, kitPackageRoot, logPaths } from './paths.cjs';
import { readSettings, workerEnv, type Settings } from './settings.cjs';

/** The script PM2 runs in every cluster worker. */
export const workerScript = path.join(kitPackageRoot, 'dist', 'web', 'main.js');

/** `{ apps: [...] }` for PM2, for the project at `root` (settings from its config file and the environment). */
export function ecosystem(root?: string): { apps: Record<string, unknown>[] } {
  const env = root && !process.env.ASTRO_CLUSTER_ROOT ? { ...process.env, ASTRO_CLUSTER_ROOT: root } : process.env;
  return { apps: [webApp(readSettings(env))] };
}

export function webApp(settings: Settings): Record<string, unknown> {
  const logs = appLogFiles(settings.logsDir, settings.webAppName);
  return {
    name: settings.webAppName,
    script: workerScript,
    cwd: settings.root,
    // PM2 would load its metrics agent (@pm2/io) into every worker and turn
    // on source-map support, which costs per-request CPU; the kit needs
    // neither (status and the pm2-monitor agent read PM2 directly).
    pmx: false,
    disable_source_map_support: true,

    // One worker per core by default (web.instances "max"); the PM2 daemon
    // is the cluster primary and hands each new connection to the next worker.
    exec_mode: 'cluster',
    instances: settings.webInstances,

    // A worker sends 'ready' once it has imported the build and listens.
    // START_TIMEOUT_MS (default 15000): importing the build takes about
    // 0.1 s on an idle machine and a few seconds on a loaded 2-core one; past
    // this PM2 stops waiting and retires the old worker anyway.
    wait_ready: true,
    listen_timeout: settings.startTimeoutMs,

    // On SIGINT a worker drains for at most DRAIN_TIMEOUT_MS (default 5000),
    // closes what it holds open within what is left of it (1 s at least),
    // and exits by itself; PM2 sends SIGKILL only 2 s after the deadline.
    kill_timeout: settings.drainTimeoutMs + 2000,

    // Crash handling: restart after 200 ms, then 1.5 times longer each time
    // (PM2 caps it at 15 s). A worker that dies within 10 s of starting is
    // unstable; after 10 unstable restarts PM2 stops it as "errored".
    autorestart: true,
    exp_backoff_restart_delay: 200,
    min_uptime: 10000,
    max_restarts: 10,

    // A leaking worker is replaced, through the same graceful drain.
    max_memory_restart: settings.webMaxMemory,

    // One log pair for all workers, with timestamps, under LOGS_DIR/pm2.
    merge_logs: true,
    log_date_format: 'YYYY-MM-DD HH:mm:ss.SSS Z',
    out_file: logs.out,
    error_file: logs.error,
    pid_file: path.join(logPaths(settings.logsDir).pm2Pids, `${settings.webAppName}.pid`),

    env: workerEnv(settings),
  };
}
