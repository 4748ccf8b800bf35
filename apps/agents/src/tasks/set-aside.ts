import path from 'node:path';
import { describe, writeFileAtomic } from 'astro-cluster-kit/core';
import { audit, type EventLog, type StoredEvent, type TaskEvent } from 'astro-cluster-kit/event-log';
import { hasEnded, taskHistory } from './runner.js';
import { claimedTopic, clip } from './validate.js';

export interface SetAsideContext {
  readonly name: string;
  readonly events: EventLog;
  log(line: string): void;
}

/** What is kept of a message set aside, for an operator to look at (and requeue by hand if it deserves it). */
export interface SetAsideRecord {
  event: StoredEvent;
  reason: string;
  task: string | null;
  at: string;
}

/** Where a set-aside message is kept: one file per queue event id (ids are digits, or digits-digits on Redis; anything else is made safe). */
export function setAsideFile(dir: string, queueId: string): string {
  return path.join(dir, `${queueId.replace(/[^0-9A-Za-z_-]/g, '_')}.json`);
}

/**
 * Sets a message aside: keeps it whole in `dir`, reports it on the audit
 * topic, and ends the task it names (if that names a topic) with `failed`,
 * so that a client streaming it gets an end. Throws when the file or the
 * audit entry cannot be written: the caller must then not move past the
 * message, or it would be lost without a trace.
 */
export async function setAside(agent: SetAsideContext, dir: string, event: StoredEvent, reason: string, task: string | undefined): Promise<void> {
  const file = setAsideFile(dir, event.id);
  const record: SetAsideRecord = { event, reason, task: task ?? null, at: new Date().toISOString() };
  await writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`);
  // Not agent.audit: that one only logs a failure to report, and here a report that did not land means "try again later".
  const failed = await audit(agent.events, {
    source: agent.name,
    kind: 'set-aside',
    message: `queue event ${event.id}${task === undefined ? '' : ` (task ${clip(task, 64)})`} set aside: ${reason}`,
    pid: process.pid,
    queueId: event.id,
    task: task === undefined ? null : clip(task, 64),
    reason,
    file,
  });
  if (failed) throw failed;
  agent.log(`queue event ${event.id} set aside: ${reason} (kept in ${file})`);

  const topic = claimedTopic(task);
  if (!topic) return;
  // Best effort: the audit topic just took a publish, so the log works; a task topic that still refuses one is no reason to hold the queue.
  try {
    // A message that merely reuses the id of a task already ended must not rewrite that task's end.
    if (hasEnded((await taskHistory(agent.events, topic)).map((entry) => entry?.type))) return;
    await agent.events.publish(topic, { type: 'failed', reason: `set aside: ${reason}` } satisfies TaskEvent);
  } catch (error) {
    agent.log(`queue event ${event.id}: could not end ${topic} as failed: ${describe(error)}`);
  }
}
