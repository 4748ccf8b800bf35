import type { EventLog } from './types.js';

/** What agents and the kit report on the `audit` topic. */
export interface AuditEntry {
  /** Who reports: an agent's name, `start-pm2`, `supervisor`… */
  source: string;
  /** What kind of thing happened: `job`, `moved`, `restart`, `started`… */
  kind: string;
  message: string;
  [detail: string]: unknown;
}

export const auditTopic = 'audit';

/** Publishes on `audit`; reporting must never break the work it reports on, so failures are only returned. */
export async function audit(log: EventLog, entry: AuditEntry): Promise<Error | undefined> {
  try {
    await log.publish(auditTopic, entry);
    return undefined;
  } catch (error) {
    return error as Error;
  }
}
