import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The token the bench publishes with: the workers take EVENTS_TOKEN when it
 * is set and then never write LOGS_DIR/run/events.token, so the file is only
 * read when the variable is empty (as the kit's own eventsToken does).
 */
export function benchEventsToken(logsDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.EVENTS_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  return readFileSync(path.join(logsDir, 'run', 'events.token'), 'utf8').trim();
}
