import { readSettings } from '@kit/core';
import { openEventLog, type EventLog } from '@kit/events';

let log: EventLog | undefined;

/** The shared event log, opened once per worker on first use. */
export function events(): EventLog {
  return (log ??= openEventLog(readSettings()));
}
