import { agentsStatus, type AgentContext } from '../agents/index.js';
import { forGoodTimeoutMs, Pm2Client, runningDaemon, stopForGood, type Pm2BusPacket } from '../cluster/index.js';
import { pm2Home } from '../core/index.cjs';
import { pongType } from '../web/ping.js';
import { CrashWindow, watches } from './crash-window.js';
import { describeExit, exitReason } from './exit-reason.js';
import { Watchdog } from './watchdog.js';
import { emptyApp, readMonitorState, readResets, workerSnapshot, writeMonitorState, type AppRecord, type MonitorState } from './state.js';

/** The topic the ops page follows: a snapshot of workers, agents and apps every MONITOR_SNAPSHOT_MS. */
export const opsTopic = 'ops';

const KEEP = 20;

/**
 * Follows the PM2 daemon's event bus: records restarts, exceptions and
 * error lines per app, reports them on the `audit` topic, and when an app
 * exits abnormally MONITOR_CRASH_LIMIT times within MONITOR_CRASH_WINDOW_MS
 * it stops that app (PM2 would keep restarting it) and marks its circuit
 * open, until an operator resets it (`bin/status --reset APP`). Its
 * watchdog reloads a web worker that PM2 calls online but that no longer
 * answers. It connects only to a daemon it saw running (it waits for one
 * otherwise), reports the daemon's death (`daemon-died`) and its return
 * (`daemon-back`), and follows the next one too.
 */
export class Pm2Monitor {
  readonly #agent: AgentContext;
  readonly #window: CrashWindow;
  readonly #state: MonitorState;
  /** pm_id → when it was last seen stopping on purpose (its next `exit` is an operator's, not a crash). */
  readonly #stopping = new Map<string, number>();
  readonly #watchdog: Watchdog;
  /** The daemon followed last, and whether its death was reported. */
  #lastDaemon: { pid: number; died: boolean } | undefined;
  /** Whether the last write of the state file failed (said once, then retried each round). */
  #saveFailing = false;

  constructor(agent: AgentContext) {
    this.#agent = agent;
    this.#window = new CrashWindow({ limit: agent.settings.monitorCrashLimit, windowMs: agent.settings.monitorCrashWindowMs });
    this.#state = { pid: process.pid, updatedAt: new Date().toISOString(), apps: {}, workers: [] };
    this.#watchdog = new Watchdog(agent);
  }

  async run(): Promise<void> {
    const { log, settings } = this.#agent;
    // Circuits stay open across restarts of the monitor: only an operator closes them.
    Object.assign(this.#state.apps, (await readMonitorState(settings.logsDir))?.apps ?? {});
    log(`watching ${settings.monitorApps.join(', ')} for crash loops (${settings.monitorCrashLimit} abnormal exits in ${settings.monitorCrashWindowMs} ms)`);
    let waitMs = 1000;
    while (!this.#agent.signal.aborted) {
      const daemon = runningDaemon().pid;
      if (daemon === undefined) {
        await this.#snapshot(undefined);
        // Back-off while no daemon runs: at most 5 s between looks, so its return is reported soon.
        await this.#agent.sleep(waitMs);
        waitMs = Math.min(5000, waitMs * 2);
        continue;
      }
      waitMs = 1000;
      if (this.#lastDaemon?.died) await this.#agent.audit('daemon-back', `the PM2 daemon runs again (pid ${daemon}, was ${this.#lastDaemon.pid})`, { pid: daemon });
      this.#lastDaemon = { pid: daemon, died: false };
      await this.#follow(daemon).catch((error: Error) => this.#agent.log(`following the PM2 daemon failed: ${error.message}`));
      if (!this.#agent.signal.aborted && runningDaemon().pid !== daemon) {
        this.#lastDaemon.died = true;
        await this.#agent.audit('daemon-died', `the PM2 daemon (pid ${daemon}) is gone: nothing supervises its apps now (its cluster workers exit with it); ./bin/start-pm2 starts them again`, { pid: daemon });
      }
    }
  }

  /** Follows one daemon until it is gone (or replaced), or the agent stops. */
  async #follow(daemon: number): Promise<void> {
    const client = await Pm2Client.connect();
    try {
      const bus = await client.bus();
      this.#agent.log(`following the PM2 daemon (pid ${daemon})`);
      bus.on('process:event', (packet) => void this.#onEvent(client, packet));
      bus.on('process:exception', (packet) => void this.#onException(packet));
      bus.on('log:err', (packet) => this.#onErrorLine(packet));
      bus.on(pongType, (packet) => this.#watchdog.onPong(packet));
      const alive = () => !this.#agent.signal.aborted && runningDaemon().pid === daemon;
      const watching = this.#watch(client, alive);
      while (alive()) {
        await this.#applyResets(client);
        await this.#snapshot(client);
        await this.#agent.sleep(this.#agent.settings.monitorSnapshotMs);
      }
      await watching;
    } finally {
      client.disconnect();
    }
  }

  /** The watchdog's rounds, every MONITOR_PING_MS, while the daemon lives. */
  async #watch(client: Pm2Client, alive: () => boolean): Promise<void> {
    while (alive()) {
      try {
        await this.#watchdog.tick(client, await withTimeout(client.list(), 5000, 'pm2 list'));
      } catch (error) {
        this.#agent.log(`watchdog: ${error instanceof Error ? error.message : String(error)}`);
      }
      await this.#agent.sleep(this.#agent.settings.monitorPingMs);
    }
  }

  async #onEvent(client: Pm2Client, packet: Pm2BusPacket): Promise<void> {
    const { name, status } = packet.process;
    const pmId = String(packet.process.pm_id);
    if (packet.event === 'restart overlimit') {
      await this.#agent.audit('errored', `${name}: PM2 gave up restarting it (too many unstable restarts)`, { app: name });
      return;
    }
    if (packet.event !== 'exit' || pmId.startsWith('_old_')) return; // A reload's old worker leaving is no crash.
    if (status === 'stopping') {
      this.#stopping.set(pmId, Date.now());
      return;
    }
    // Stopping on purpose sends a second exit (status `stopped`) right after the first.
    if (Date.now() - (this.#stopping.get(pmId) ?? 0) < 10_000) return;

    const app = this.#app(name);
    const now = Date.now();
    const reason = await exitReason(pm2Home(), name, pmId, packet.process.exit_code);
    app.restarts += 1;
    app.exits = [...app.exits, { at: new Date(now).toISOString(), code: reason.code, ...(reason.signal && { signal: reason.signal }) }].slice(-KEEP);
    const loop = watches(this.#agent.settings.monitorApps, name) && app.circuit.state === 'closed' && this.#window.record(name, now);
    await this.#agent.audit('exit', `${name} (pm_id ${pmId}) ${describeExit(reason)}: PM2 restarts it`, { app: name, code: reason.code, signal: reason.signal });
    if (!loop) return this.#save();

    const loopReason = `${this.#window.count(name, now)} abnormal exits within ${this.#agent.settings.monitorCrashWindowMs / 1000} s`;
    app.circuit = { state: 'open', openedAt: new Date(now).toISOString(), reason: loopReason };
    this.#agent.log(`${name}: crash loop (${loopReason}): stopping it until an operator resets it`);
    await this.#agent.unit(() => this.#stopApp(client, name)).catch((error: Error) => this.#agent.log(`stopping ${name} failed: ${error.message}`));
    await this.#agent.audit('circuit-open', `${name} keeps crashing (${loopReason}): stopped; bin/status --reset ${name} starts it again`, { app: name });
    await this.#save();
  }

  /** Stops every process of the app so that PM2 restarts none of them, even those that were starting. */
  #stopApp(client: Pm2Client, name: string): Promise<unknown> {
    return stopForGood(client, {
      select: (list) => list.filter((proc) => proc.name === name && proc.status !== 'stopped' && proc.status !== 'errored'),
      timeoutMs: forGoodTimeoutMs(this.#agent.settings),
      what: name,
    });
  }

  async #onException(packet: Pm2BusPacket): Promise<void> {
    const message = String((packet.data as { message?: unknown } | undefined)?.message ?? packet.data ?? 'unknown error');
    const app = this.#app(packet.process.name);
    app.exceptions = [...app.exceptions, { at: new Date().toISOString(), message }].slice(-KEEP);
    await this.#agent.audit('exception', `${packet.process.name}: ${message}`, { app: packet.process.name });
    await this.#save();
  }

  #onErrorLine(packet: Pm2BusPacket): void {
    const app = this.#app(packet.process.name);
    const lines = String(packet.data ?? '').split('\n').filter((line) => line.trim() !== '');
    app.errors = [...app.errors, ...lines.map((line) => ({ at: new Date().toISOString(), line: line.slice(0, 500) }))].slice(-KEEP);
  }

  /** Closes the circuits an operator reset since they opened, and starts those apps again. */
  async #applyResets(client: Pm2Client): Promise<void> {
    const resets = await readResets(this.#agent.settings.logsDir);
    for (const [name, app] of Object.entries(this.#state.apps)) {
      const resetAt = resets[name];
      if (app.circuit.state !== 'open' || !resetAt || resetAt <= app.circuit.openedAt) continue;
      app.circuit = { state: 'closed' };
      this.#window.forget(name);
      this.#agent.log(`${name}: circuit reset by an operator: starting it again`);
      await this.#agent.unit(() => client.restartApp(name)).catch((error: Error) => this.#agent.log(`restarting ${name} failed: ${error.message}`));
      await this.#agent.audit('circuit-reset', `${name}: reset by an operator and started again`, { app: name });
    }
  }

  /** The state file and an `ops` event: workers (from PM2), agents (from their locks), apps. */
  async #snapshot(client: Pm2Client | undefined): Promise<void> {
    // A daemon that died under the connection never answers: do not wait for it.
    this.#state.workers = client ? (await withTimeout(client.list(), 5000, 'pm2 list').catch(() => [])).map((proc) => workerSnapshot(proc)) : [];
    await this.#save();
    const agents = await agentsStatus(this.#agent.settings).catch(() => undefined);
    await this.#agent.events
      .publish(opsTopic, { workers: this.#state.workers, agents: agents?.agents ?? [], supervisor: agents?.supervisor, apps: this.#state.apps })
      .catch((error: Error) => this.#agent.log(`could not publish the ops snapshot: ${error.message}`));
  }

  #app(name: string): AppRecord {
    return (this.#state.apps[name] ??= emptyApp());
  }

  async #save(): Promise<void> {
    this.#state.updatedAt = new Date().toISOString();
    try {
      await writeMonitorState(this.#agent.settings.logsDir, this.#state);
      if (this.#saveFailing) this.#agent.log('the monitor state is written again');
      this.#saveFailing = false;
    } catch (error) {
      // A full disk (ENOSPC) must not end the monitor: the state is written whole each round, so the next
      // round's try brings it up to date; meanwhile the snapshot still goes out (or is skipped) as usual.
      if (!this.#saveFailing) this.#agent.log(`could not write the monitor state (tried again each round): ${(error as Error).message}`);
      this.#saveFailing = true;
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
