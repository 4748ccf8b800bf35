// PM2 ecosystem file for the kit's web cluster.
//
//   pnpm exec pm2 start ecosystem.config.js    start (bin/start-pm2 does this, with checks)
//   pnpm exec pm2 reload ecosystem.config.js   zero-downtime reload, worker by worker
//
// CommonJS on purpose: PM2 loads this file with require(), and the root
// package.json says "type": "commonjs", so it loads the same on Node 20 and 22.
// Every value comes from the environment through packages/core/src/settings.ts,
// which rejects bad values (WEB_INSTANCES=abc, PORT=99999) with a clear message.
'use strict';

const path = require('node:path');

let kit;
try {
  kit = require('./packages/core');
} catch (error) {
  throw new Error(`the kit is not built yet (${error.message}): run \`pnpm install && pnpm build\`, or ./bin/start-pm2`);
}
const settings = kit.readSettings(process.env);
const logs = kit.appLogFiles(settings.logsDir, settings.webAppName);

module.exports = {
  apps: [
    {
      name: settings.webAppName,
      script: path.join(__dirname, 'packages/web/dist/main.js'),
      cwd: __dirname,
      // PM2 would load its metrics agent (@pm2/io) into every worker and turn
      // on source-map support, which costs per-request CPU; the kit needs
      // neither (bin/status and the pm2-monitor agent read PM2 directly).
      pmx: false,
      disable_source_map_support: true,

      // One worker per core by default (WEB_INSTANCES=max); the PM2 daemon is
      // the cluster primary and hands each new connection to the next worker.
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
      pid_file: path.join(kit.logPaths(settings.logsDir).pm2Pids, `${settings.webAppName}.pid`),

      env: kit.workerEnv(settings),
    },
  ],
};
