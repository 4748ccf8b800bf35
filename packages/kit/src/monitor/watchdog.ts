import type { AgentContext } from '../agents/index.js';
import type { Pm2BusPacket, Pm2Client, Pm2Process } from '../cluster/index.js';
import { pingTopic } from '../web/ping.js';

/**
 * Finds web workers PM2 calls online that no longer serve: every
 * MONITOR_PING_MS it pings each worker over PM2's IPC (an HTTP probe cannot
 * pick its worker: the cluster primary hands each connection to whichever
 * worker it likes, and a stuck one simply stops getting them), and a worker
 * that leaves MONITOR_PING_MISSES pings in a row unanswered is reloaded (a
 * restart when the reload fails) and reported on the audit topic.
 */
export class Watchdog {
  readonly #agent: AgentContext;
  /** `pmId:pid` → the ping it has not answered yet, and how many in a row it missed. */
  readonly #workers = new Map<string, { pending: number | undefined; misses: number }>();
  #seq = 0;

  constructor(agent: AgentContext) {
    this.#agent = agent;
  }

  /** A worker's answer (the bus event web/ping.ts sends). */
  onPong(packet: Pm2BusPacket): void {
    const data = packet.data as { seq?: unknown; pid?: unknown } | undefined;
    const state = this.#workers.get(`${packet.process.pm_id}:${data?.pid}`);
    if (state && state.pending === data?.seq) {
      state.pending = undefined;
      state.misses = 0;
    }
  }

  /** One round: count last round's unanswered pings, act on workers past the limit, ping again. */
  async tick(client: Pm2Client, processes: Pm2Process[]): Promise<void> {
    const { settings } = this.#agent;
    const now = Date.now();
    // A worker that has just started may still be importing the build: leave it a start timeout.
    const watched = processes.filter((proc) => proc.name === settings.webAppName && proc.status === 'online' && proc.pid > 0 && now - proc.startedAt > settings.startTimeoutMs);
    const keys = new Set(watched.map((proc) => `${proc.pmId}:${proc.pid}`));
    for (const key of this.#workers.keys()) if (!keys.has(key)) this.#workers.delete(key);
    for (const proc of watched) {
      const key = `${proc.pmId}:${proc.pid}`;
      const state = this.#workers.get(key) ?? { pending: undefined, misses: 0 };
      this.#workers.set(key, state);
      if (state.pending !== undefined) state.misses += 1;
      if (state.misses >= settings.monitorPingMisses) {
        this.#workers.delete(key);
        await this.#replace(client, proc, state.misses);
        continue;
      }
      state.pending = ++this.#seq;
      await client.sendData(proc.pmId, pingTopic, { seq: state.pending }).catch(() => undefined);
    }
  }

  async #replace(client: Pm2Client, proc: Pm2Process, misses: number): Promise<void> {
    const { settings } = this.#agent;
    const why = `${proc.name} worker ${proc.pmId} (pid ${proc.pid}) is online but did not answer ${misses} health pings in a row, ${settings.monitorPingMs} ms apart`;
    this.#agent.log(`${why}: reloading it`);
    let action = 'reloaded';
    await this.#agent
      .unit(() => client.reloadId(proc.pmId))
      .catch(async (error: Error) => {
        this.#agent.log(`reloading ${proc.pmId} failed (${error.message}): restarting it`);
        action = 'restarted';
        await this.#agent.unit(() => client.restartId(proc.pmId));
      })
      .catch((error: Error) => {
        action = `could not be replaced (${error.message})`;
      });
    await this.#agent.audit('watchdog', `${why}: ${action}`, { app: proc.name, pmId: proc.pmId, pid: proc.pid, action });
  }
}
