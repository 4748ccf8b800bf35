import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { appLogFiles, errors, localUrl, type Reporter, type Settings } from '../core/index.cjs';
import { deleteForGood, forGoodTimeoutMs } from './for-good.js';
import { Pm2Client, type Pm2Process } from './pm2-client.js';
import { checkPort } from './port.js';
import { tryWorker } from './trial-worker.js';
import { waitForWorkers } from './wait-healthy.js';

/**
 * The project's PM2 ecosystem file (`astro-cluster init` writes it):
 * ecosystem.config.js, or ecosystem.config.cjs where init wrote that because
 * the root package.json has "type": "module" (PM2 require()s the file).
 */
export function ecosystemFile(settings: Settings): string {
  const js = path.join(settings.root, 'ecosystem.config.js');
  const cjs = path.join(settings.root, 'ecosystem.config.cjs');
  return !existsSync(js) && existsSync(cjs) ? cjs : js;
}

export interface WebState {
  action: 'started' | 'reloaded';
  url: string;
  workers: Pm2Process[];
  build: string;
}

/** The kit's own web workers in this daemon: right name, started for this project (its root in their environment, or their script inside it). */
export function kitWorkers(list: Pm2Process[], settings: Settings): Pm2Process[] {
  return list.filter(
    (proc) => proc.name === settings.webAppName && (proc.env.ASTRO_CLUSTER_ROOT === settings.root || (proc.env.ASTRO_CLUSTER_ROOT === undefined && isInside(proc.execPath, settings.root))),
  );
}

export function expectedInstances(settings: Settings): number {
  // What PM2 does for `instances: 'max'` in the daemon, on this same machine.
  return settings.webInstances === 'max' ? os.cpus().length : settings.webInstances;
}

/**
 * Starts the web cluster, or reloads it worker by worker when it already
 * runs, and returns once every worker serves `build`. Idempotent: a second
 * call reloads and never adds workers. Before a reload the build is tried
 * in a trial worker, unless the caller just did (`tried`). A fresh start
 * that fails is deleted from PM2 again, so nothing half-started is left.
 */
export function startWeb(settings: Settings, build: string, report: Reporter, options: { tried?: boolean } = {}): Promise<WebState> {
  return Pm2Client.using(async (client) => {
    const ours = await ownWorkers(client, settings);
    if (ours.length > 0) {
      if (!options.tried) {
        report.step('trying the build in a trial worker before touching the running ones');
        const trial = await tryWorker(settings);
        report.done(`trial worker served build ${trial.build} after ${trial.startMs} ms`);
      }
      return reload(client, ours, settings, build, report);
    }
    await ensurePortFree(settings);
    report.step(`starting ${expectedInstances(settings)} web worker(s) in PM2 cluster mode`);
    await client.startFromFile(ecosystemFile(settings), settings.webAppName);
    try {
      return { action: 'started', url: webUrl(settings), build, workers: await waitForKitWorkers(client, settings, build, report) };
    } catch (error) {
      report.warn(`removing ${settings.webAppName} from PM2 again`);
      await removeWorkers(client, settings, report).catch((cleanup: Error) => report.warn(`could not remove it: ${cleanup.message}`));
      throw error;
    }
  });
}

/**
 * Reloads the running web cluster worker by worker and waits until every
 * worker serves `build`; undefined when the kit's web cluster is not
 * running (nothing to reload). Starts no daemon.
 */
export function reloadWeb(settings: Settings, build: string, report: Reporter): Promise<WebState | undefined> {
  return Pm2Client.ifRunning(async (client) => {
    const ours = await ownWorkers(client, settings);
    return ours.length === 0 ? undefined : reload(client, ours, settings, build, report);
  });
}

/** The kit's workers in this daemon; an app of the same name from elsewhere is an error, not ours to touch. */
async function ownWorkers(client: Pm2Client, settings: Settings): Promise<Pm2Process[]> {
  const list = await client.list();
  const ours = kitWorkers(list, settings);
  const namesake = list.find((proc) => proc.name === settings.webAppName && !ours.includes(proc));
  if (namesake) {
    throw errors.usage(
      `PM2 already runs an app named ${settings.webAppName} from ${namesake.execPath}, outside this kit.`,
      'Give this kit another name: WEB_APP_NAME=<name> ./bin/start-pm2.',
    );
  }
  return ours;
}

async function reload(client: Pm2Client, ours: Pm2Process[], settings: Settings, build: string, report: Reporter): Promise<WebState> {
  const instances = expectedInstances(settings);
  if (String(ours[0]?.env.PORT) !== String(settings.port)) await ensurePortFree(settings);
  report.step(`reloading ${ours.length} worker(s) one by one`);
  await client.reloadFromFile(ecosystemFile(settings), settings.webAppName);
  if (ours.length !== instances) {
    report.step(`scaling from ${ours.length} to ${instances} worker(s)`);
    await client.scale(settings.webAppName, instances);
  }
  const replacing = new Set(ours.map((proc) => proc.pid));
  return { action: 'reloaded', url: webUrl(settings), build, workers: await waitForKitWorkers(client, settings, build, report, replacing) };
}

/**
 * Waits until every one of the kit's workers is online and serves `build`
 * (those in `replacing` do not count), within twice the start budget: a
 * reload starts the workers one after another.
 */
export function waitForKitWorkers(client: Pm2Client, settings: Settings, build: string, report: Reporter, replacing?: ReadonlySet<number>): Promise<Pm2Process[]> {
  return waitForWorkers({
    client,
    app: settings.webAppName,
    instances: expectedInstances(settings),
    host: settings.host,
    port: settings.port,
    secure: Boolean(settings.tls),
    healthPath: settings.healthPath,
    build,
    replacing,
    timeoutMs: settings.startTimeoutMs * 2,
    errorLog: appLogFiles(settings.logsDir, settings.webAppName).error,
    report,
  });
}

function webUrl(settings: Settings): string {
  return localUrl(settings.host, settings.port, Boolean(settings.tls));
}

/**
 * `pm2 save --force`: what `pm2 resurrect` brings back at boot becomes what
 * runs now, even when that is nothing (a plain `pm2 save` refuses an empty
 * list and would leave a stale dump to resurrect). Starts no daemon.
 */
export async function saveProcessList(): Promise<boolean> {
  return (await Pm2Client.ifRunning((client) => client.save().then(() => true))) ?? false;
}

/** Makes PM2's processes reopen their log files (`pm2 reloadLogs`), when a daemon runs. Starts none. */
export async function reopenPm2Logs(): Promise<void> {
  await Pm2Client.ifRunning((client) => client.reloadLogs());
}

/** Deletes the kit's web workers from PM2, and nothing else. Starts no daemon. */
export async function stopWeb(settings: Settings, report?: Reporter): Promise<Pm2Process[]> {
  return (await Pm2Client.ifRunning((client) => removeWorkers(client, settings, report))) ?? [];
}

/** Deletes the kit's workers so that they stay deleted (see for-good.ts). */
function removeWorkers(client: Pm2Client, settings: Settings, report?: Reporter): Promise<Pm2Process[]> {
  return deleteForGood(client, {
    select: (list) => kitWorkers(list, settings),
    timeoutMs: forGoodTimeoutMs(settings),
    what: settings.webAppName,
    progress: report ? (text) => report.progress(text) : undefined,
  });
}

async function ensurePortFree(settings: Settings): Promise<void> {
  const state = await checkPort(settings.host, settings.port);
  if (!state.free) throw errors.portInUse(settings.host, settings.port, state.owner);
}

function isInside(file: string, dir: string): boolean {
  const relative = path.relative(dir, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}
