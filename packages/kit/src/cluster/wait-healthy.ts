import { setTimeout as sleep } from 'node:timers/promises';
import { errors, tailLines, type Reporter } from '../core/index.cjs';
import { fetchHealth, type HealthReport } from './health.js';
import type { Pm2Client, Pm2Process } from './pm2-client.js';

export interface WaitForWorkersOptions {
  client: Pm2Client;
  app: string;
  instances: number;
  host: string;
  port: number;
  /** The workers serve HTTPS. */
  secure?: boolean;
  /** web.healthPath: where each worker is asked. */
  healthPath: string;
  /** Every worker must report this build on the health path. */
  build: string;
  /** Pids of workers being replaced: they do not count. */
  replacing?: ReadonlySet<number>;
  timeoutMs: number;
  errorLog: string;
  report: Reporter;
}

/** Restarts during a start that mean the workers die as they come up rather than once by chance. */
const CRASH_LOOP_RESTARTS = 2;

/**
 * Waits until PM2 shows `instances` workers online and each of them has
 * answered the health path with the expected build. Fails early on a crash loop and
 * at the deadline, with the tail of the error log either way.
 */
export async function waitForWorkers(options: WaitForWorkersOptions): Promise<Pm2Process[]> {
  const { client, app, instances, report } = options;
  const deadline = Date.now() + options.timeoutMs;
  const baseline = new Map((await client.processes(app)).map((proc) => [proc.pmId, proc.restarts]));
  const healthy = new Map<number, HealthReport>();
  let waitingFor = 'no worker online yet';
  let lastProgress = '';

  while (Date.now() < deadline) {
    const procs = await client.processes(app);
    const restarts = procs.reduce((sum, proc) => sum + Math.max(0, proc.restarts - (baseline.get(proc.pmId) ?? 0)), 0);
    if (procs.some((proc) => proc.status === 'errored') || restarts >= CRASH_LOOP_RESTARTS) {
      throw errors.crashLoop(app, restarts, await tailLines(options.errorLog, 20));
    }
    const online = procs.filter((proc) => proc.status === 'online' && proc.pid > 0 && !options.replacing?.has(proc.pid));
    const onlinePids = new Set(online.map((proc) => proc.pid));
    for (const pid of healthy.keys()) if (!onlinePids.has(pid)) healthy.delete(pid);

    if (online.length >= instances) {
      // Each probe is a new connection, which the primary hands to the next worker.
      for (let i = 0; i < instances * 2 && healthy.size < online.length; i++) {
        try {
          const health = await fetchHealth({ host: options.host, port: options.port, path: options.healthPath, secure: options.secure }, 3000);
          if (onlinePids.has(health.pid) && health.build === options.build) healthy.set(health.pid, health);
          else if (health.status === 'degraded') waitingFor = `a worker is degraded: it serves the last good release ${health.build} because build ${health.wanted} could not be loaded (${health.reason})`;
          else if (health.build !== options.build) waitingFor = `a worker still serves build ${health.build}`;
        } catch (error) {
          waitingFor = (error as Error).message;
        }
      }
      if (healthy.size >= instances && online.every((proc) => healthy.has(proc.pid))) {
        report.progress(`${instances} of ${instances} workers healthy`);
        return online;
      }
    } else {
      waitingFor = `${online.length} of ${instances} workers online`;
    }
    const progress = `${healthy.size} of ${instances} workers healthy (${procs.map((proc) => proc.status).join(', ') || 'none listed'})`;
    if (progress !== lastProgress) report.progress((lastProgress = progress));
    await sleep(200);
  }
  throw errors.startTimeout(app, Math.round(options.timeoutMs / 1000), waitingFor, await tailLines(options.errorLog, 20));
}
