import { readSettings, type BuildInfo, type Settings } from '../core/index.cjs';
import { eventsToken, openEventLog } from '../events/open.js';
import type { EventLog } from '../events/types.js';
import { LongLivedResponses } from '../server/long-lived.js';

/**
 * What the kit's worker shares with the site's code in the same process: the
 * event log, the registry of open streams its drain ends, which worker this
 * is and what build it serves. The site's bundle may hold its own copy of the
 * kit's modules (Vite bundles linked packages), so the context lives on
 * globalThis under a registered symbol, not in a module variable.
 */
export interface KitContext {
  settings: Settings;
  log: EventLog;
  streams: LongLivedResponses;
  /** PM2's instance number as a string, or `standalone`. */
  worker: string;
  build: BuildInfo | undefined;
  startedAt: number;
  /** The bearer token for publishing (EVENTS_TOKEN, or the one kept in LOGS_DIR/run/events.token). */
  token: () => Promise<string>;
}

const key = Symbol.for('astro-cluster-kit.context');
type Holder = { [key]?: KitContext };

/** Called by the kit's worker before it loads the site. */
export function provideContext(context: KitContext): void {
  (globalThis as Holder)[key] = context;
}

/**
 * The context of this process: the worker's, or, when the site runs outside
 * the kit (`astro dev`, the adapter's own server), one opened on first use
 * from the same settings, so the same calls work there too.
 */
export function kitContext(): KitContext {
  const holder = globalThis as Holder;
  if (!holder[key]) {
    const settings = readSettings();
    let token: Promise<string> | undefined;
    holder[key] = {
      settings,
      log: openEventLog(settings),
      streams: new LongLivedResponses(),
      worker: instanceName(),
      build: undefined,
      startedAt: Date.now(),
      token: () => (token ??= eventsToken(settings)),
    };
  }
  return holder[key];
}

/** PM2's instance number (0..N-1) in cluster mode; null when started by hand. */
export function instanceId(): number | null {
  const raw = process.env.NODE_APP_INSTANCE;
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : null;
}

export function instanceName(): string {
  const id = instanceId();
  return id === null ? 'standalone' : String(id);
}
