import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chmod } from 'node:fs/promises';
import { errors, hideSecrets, isAlive, pm2Home, readSettings } from '../core/index.cjs';

// PM2 reads PM2_HOME when it is first required, so every process of the kit
// talks to exactly one daemon: the one its environment names.
const pm2 = createRequire(import.meta.url)('pm2') as typeof import('pm2');

/** What the kit needs to know about one PM2 process (one cluster worker). */
export interface Pm2Process {
  name: string;
  pmId: number;
  /** NODE_APP_INSTANCE: 0..N-1 in cluster mode, kept by the replacement on reload. */
  instance: number;
  pid: number;
  /** online, launching, stopping, stopped, errored, waiting restart, one-launch-status. */
  status: string;
  restarts: number;
  /** How long PM2 waits before it restarts this process after its next exit. */
  restartDelayMs: number;
  /** When the current process started (ms since epoch). */
  startedAt: number;
  memoryBytes: number;
  cpuPercent: number;
  execPath: string;
  /** The worker's environment as PM2 holds it (PORT, LOGS_DIR, ...). */
  env: Record<string, unknown>;
}

export interface DaemonInfo {
  home: string;
  pid: number | undefined;
}

/** The daemon of this PM2_HOME, if one runs. Never starts one. */
export function runningDaemon(env: NodeJS.ProcessEnv = process.env): DaemonInfo {
  const home = pm2Home(env);
  const pidFile = path.join(home, 'pm2.pid');
  if (!existsSync(pidFile)) return { home, pid: undefined };
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return { home, pid: Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined };
}

/**
 * A connection to the PM2 daemon, with promises instead of callbacks.
 * `connect()` starts the daemon when none runs; always `disconnect()`.
 */
export class Pm2Client {
  private constructor(readonly home: string) {}

  static async connect(): Promise<Pm2Client> {
    const home = pm2Home();
    // PM2 copies this process's environment into the daemon it spawns, into each app it starts or
    // reloads, and so into dump.pm2: the secrets move to LOGS_DIR/run/secrets.json first.
    hideSecrets(process.env, readSettings().logsDir);
    await call<void>((done) => pm2.connect(done), (error) => errors.pm2Unreachable(home, error));
    return new Pm2Client(home);
  }

  /** Runs `use` on a connection (starting the daemon when none runs), then disconnects. */
  static async using<T>(use: (client: Pm2Client) => Promise<T>): Promise<T> {
    const client = await Pm2Client.connect();
    try {
      return await use(client);
    } finally {
      client.disconnect();
    }
  }

  /** Like using(), but only when this PM2_HOME's daemon runs: starts none, and gives undefined without one. */
  static async ifRunning<T>(use: (client: Pm2Client) => Promise<T>): Promise<T | undefined> {
    return runningDaemon().pid === undefined ? undefined : Pm2Client.using(use);
  }

  disconnect(): void {
    pm2.disconnect();
  }

  async list(): Promise<Pm2Process[]> {
    const list = await call<import('pm2').ProcessDescription[]>((done) => pm2.list(done), (e) => errors.pm2ActionFailed('list', e));
    return list.map(toProcess);
  }

  async processes(name: string): Promise<Pm2Process[]> {
    return (await this.list()).filter((proc) => proc.name === name);
  }

  /** Starts the named app from an ecosystem file. */
  startFromFile(ecosystemFile: string, only: string): Promise<unknown> {
    return call((done) => (pm2.start as Loose)(ecosystemFile, { only }, done), (e) => errors.pm2ActionFailed(`start ${only}`, e));
  }

  /** Reloads the named app from an ecosystem file, applying its current environment. */
  reloadFromFile(ecosystemFile: string, only: string): Promise<unknown> {
    return call((done) => (pm2.reload as Loose)(ecosystemFile, { only }, done), (e) => errors.pm2ActionFailed(`reload ${only}`, e));
  }

  scale(name: string, instances: number): Promise<unknown> {
    return call((done) => (pm2 as unknown as { scale: Loose }).scale(name, instances, done), (e) => errors.pm2ActionFailed(`scale ${name}`, e));
  }

  /** Deletes one process by its PM2 id: never by a name that another checkout might share. */
  deleteId(pmId: number): Promise<unknown> {
    return call((done) => pm2.delete(pmId, done), (e) => errors.pm2ActionFailed(`delete ${pmId}`, e));
  }

  /**
   * `pm2 resurrect`: starts the apps of the saved dump that do not run yet.
   * Without a dump there is nothing to do (and PM2 would never call back).
   */
  async resurrect(): Promise<boolean> {
    if (!existsSync(path.join(this.home, 'dump.pm2'))) return false;
    await call((done) => (pm2 as unknown as { resurrect: Loose }).resurrect(done), (e) => errors.pm2ActionFailed('resurrect', e));
    return true;
  }

  /** Stops one process by its PM2 id (PM2 then restarts it no more). */
  stopId(pmId: number): Promise<unknown> {
    return call((done) => pm2.stop(pmId, done), (e) => errors.pm2ActionFailed(`stop ${pmId}`, e));
  }

  /** Reloads one process by its PM2 id (a cluster worker is replaced without downtime). */
  reloadId(pmId: number): Promise<unknown> {
    return call((done) => pm2.reload(pmId, done), (e) => errors.pm2ActionFailed(`reload ${pmId}`, e));
  }

  /** Restarts one process by its PM2 id. */
  restartId(pmId: number): Promise<unknown> {
    return call((done) => pm2.restart(pmId, done), (e) => errors.pm2ActionFailed(`restart ${pmId}`, e));
  }

  /** Sends `{ topic, data }` to one process over PM2's IPC (it arrives as a 'message' there). */
  sendData(pmId: number, topic: string, data: unknown): Promise<unknown> {
    const packet = { id: pmId, type: 'process:msg', topic, data };
    return call((done) => (pm2 as unknown as { sendDataToProcessId: Loose }).sendDataToProcessId(pmId, packet, done), (e) => errors.pm2ActionFailed(`send to ${pmId}`, e));
  }

  /** Restarts every process of an app, starting stopped ones. */
  restartApp(name: string): Promise<unknown> {
    return call((done) => pm2.restart(name, done), (e) => errors.pm2ActionFailed(`restart ${name}`, e));
  }

  /** PM2's event bus: process:event, process:exception, log:out, log:err… Closed by disconnect(). */
  bus(): Promise<Pm2Bus> {
    return call<Pm2Bus>((done) => pm2.launchBus(done as never), (e) => errors.pm2ActionFailed('launchBus', e));
  }

  /** `pm2 reloadLogs`: every process reopens its log files (after a rotation renamed them). */
  reloadLogs(): Promise<unknown> {
    return call((done) => pm2.reloadLogs(done), (e) => errors.pm2ActionFailed('reloadLogs', e));
  }

  /** `pm2 save --force`: the dump that `pm2 resurrect` brings back at boot matches what runs now, even when nothing does. */
  async save(): Promise<unknown> {
    const result = await call((done) => (pm2 as unknown as { dump: Loose }).dump(true, done), (e) => errors.pm2ActionFailed('save', e));
    // PM2 writes it 644, and it holds every app's environment (a daemon started by hand may still carry secrets).
    for (const file of ['dump.pm2', 'dump.pm2.bak']) await chmod(path.join(this.home, file), 0o600).catch(() => undefined);
    return result;
  }
}

export interface Pm2BusPacket {
  at?: number;
  event?: string;
  data?: unknown;
  process: { name: string; pm_id: number | string; status?: string; exit_code?: number; restart_time?: number };
}

export interface Pm2Bus {
  on(event: string, listener: (packet: Pm2BusPacket) => void): void;
}

// PM2's typings miss the (file, options, callback) forms that its API accepts.
type Loose = (...args: unknown[]) => void;

function call<T>(run: (done: (error: unknown, result?: T) => void) => void, wrap: (error: unknown) => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    run((error, result) => (error ? reject(wrap(error)) : resolve(result as T)));
  });
}

function toProcess(description: import('pm2').ProcessDescription): Pm2Process {
  const env = (description.pm2_env ?? {}) as Record<string, unknown>;
  return {
    name: String(description.name ?? env.name ?? ''),
    pmId: Number(description.pm_id ?? env.pm_id),
    instance: Number(env.NODE_APP_INSTANCE ?? env.pm_id),
    pid: Number(description.pid ?? 0),
    status: String(env.status ?? 'unknown'),
    restarts: Number(env.restart_time ?? 0),
    restartDelayMs: nextRestartDelay(env),
    startedAt: Number(env.pm_uptime ?? 0),
    memoryBytes: Number(description.monit?.memory ?? 0),
    cpuPercent: Number(description.monit?.cpu ?? 0),
    execPath: String(env.pm_exec_path ?? ''),
    env: (env.env as Record<string, unknown> | undefined) ?? {},
  };
}

/** PM2's own rule: exp_backoff_restart_delay grows 1.5 times per restart up to 15 s; otherwise restart_delay. */
function nextRestartDelay(env: Record<string, unknown>): number {
  const backoff = Number(env.exp_backoff_restart_delay);
  if (backoff > 0) {
    const previous = Number(env.prev_restart_delay);
    return previous > 0 ? Math.min(15_000, Math.floor(previous * 1.5)) : backoff;
  }
  const fixed = Number(env.restart_delay);
  return fixed > 0 ? fixed : 0;
}
