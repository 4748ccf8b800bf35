import { setTimeout as sleep } from 'node:timers/promises';
import { errors, type Settings } from '../core/index.cjs';
import type { Pm2Client, Pm2Process } from './pm2-client.js';

/**
 * Statuses in which PM2 cannot stop a process for good. A worker that exits
 * before it has sent `ready` is marked online by PM2 in that same moment,
 * which overwrites PM2's own `stopping` state; the exit then schedules a
 * restart that registers the stopped or deleted worker again (PM2 7.0). A
 * launching worker is online or gone within listen_timeout, so it is waited
 * for, then acted on.
 */
const UNSETTLED = new Set(['launching', 'stopping']);

/** Added to a process's restart delay: the time PM2 takes to register a relaunch. */
const QUIET_MARGIN_MS = 1000;

/**
 * How long acting for good may take, bounded by what PM2 itself allows: a
 * launching worker settles within listen_timeout, a stop drains within
 * kill_timeout, and a restart already scheduled comes within 15 s.
 */
export function forGoodTimeoutMs(settings: Settings): number {
  return settings.startTimeoutMs + settings.drainTimeoutMs + 20_000;
}

export interface ForGoodOptions {
  /** Picks, from PM2's whole list, the processes still to act on. */
  select: (list: Pm2Process[]) => Pm2Process[];
  timeoutMs: number;
  /** What is acted on, for messages: "astro-web". */
  what: string;
  /** Told what is waited for, when the wait is worth mentioning. */
  progress?: (text: string) => void;
}

/**
 * Deletes the processes `select` picks, each once it has settled, until PM2
 * lists none of them for longer than any restart it may have scheduled for
 * them. Returns what it deleted.
 */
export function deleteForGood(client: Pm2Client, options: ForGoodOptions): Promise<Pm2Process[]> {
  return untilGone(client, options, 'delete', (proc) => client.deleteId(proc.pmId));
}

/** Like deleteForGood, but stops them: PM2 keeps listing them, stopped. `select` must leave out those already stopped. */
export function stopForGood(client: Pm2Client, options: ForGoodOptions): Promise<Pm2Process[]> {
  return untilGone(client, options, 'stop', (proc) => client.stopId(proc.pmId));
}

async function untilGone(client: Pm2Client, options: ForGoodOptions, verb: string, act: (proc: Pm2Process) => Promise<unknown>): Promise<Pm2Process[]> {
  const done = new Map<number, Pm2Process>();
  const deadline = Date.now() + options.timeoutMs;
  let quietUntil = 0;
  let told = '';
  const tell = (text: string) => {
    if (text !== told) options.progress?.((told = text));
  };
  for (;;) {
    const left = options.select(await client.list());
    if (left.length === 0) {
      if (Date.now() >= quietUntil) return [...done.values()];
      // Worth saying only when a crash loop's back-off makes this wait long.
      if (quietUntil - Date.now() > 2000) tell(`${options.what}: watching ${Math.ceil((quietUntil - Date.now()) / 1000)} s for a restart PM2 had already scheduled`);
    } else if (Date.now() > deadline) {
      throw errors.pm2ActionFailed(`${verb} ${options.what}`, `still there after ${Math.round(options.timeoutMs / 1000)} s: ${left.map((proc) => `${proc.pmId} ${proc.status}`).join(', ')}`);
    }
    const unsettled = left.filter((proc) => UNSETTLED.has(proc.status)).length;
    if (unsettled > 0) tell(`${options.what}: waiting for ${unsettled} starting worker(s) to come up or fail before the ${verb}`);
    for (const proc of left) {
      if (UNSETTLED.has(proc.status)) continue;
      // Keep the first sighting with a live pid: that is the process the caller knew.
      if (!done.has(proc.pmId) || proc.pid > 0) done.set(proc.pmId, proc);
      // An id PM2 no longer knows is what this wants; the next list tells.
      await act(proc).catch(() => undefined);
      // A stopped or errored process has no restart pending; any other may have one, due within its next delay.
      const pending = proc.status === 'stopped' || proc.status === 'errored' ? 0 : proc.restartDelayMs;
      quietUntil = Math.max(quietUntil, Date.now() + pending + QUIET_MARGIN_MS);
    }
    await sleep(100);
  }
}
