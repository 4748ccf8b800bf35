import { setTimeout as sleep } from 'node:timers/promises';
import { taskTopic, type EventLog, type TaskEvent } from 'astro-cluster-kit/event-log';
import { composeReply } from './reply.js';
import type { QueuedTask } from './validate.js';

export type TaskOutcome = 'done' | 'skipped' | 'interrupted';

/**
 * Runs one queued task (already checked by readQueued), at most once: a
 * task whose own topic already shows an end was handled before (the runner
 * stopped before it could record that); one that shows `started` without an
 * end was cut off by a crash and is reported failed, never run a second time.
 */
export async function runTask(log: EventLog, task: QueuedTask, stepMs: number): Promise<{ id: string; outcome: TaskOutcome }> {
  const topic = taskTopic(task.id);
  const history = await taskHistory(log, topic);
  if (hasEnded(history)) return { id: task.id, outcome: 'skipped' };
  if (history.includes('started')) {
    await log.publish(topic, { type: 'failed', reason: 'interrupted: the task-runner stopped while running it' } satisfies TaskEvent);
    return { id: task.id, outcome: 'interrupted' };
  }

  const began = Date.now();
  await log.publish(topic, { type: 'started', by: process.pid } satisfies TaskEvent);
  const tokens = composeReply(task.prompt, process.pid);
  for (const [index, token] of tokens.entries()) {
    if (stepMs > 0) await sleep(stepMs);
    await log.publish(topic, { type: 'progress', percent: Math.round(((index + 1) / tokens.length) * 100), token } satisfies TaskEvent);
  }
  const reply = tokens.join('');
  await log.publish(topic, { type: 'done', reply, words: tokens.length, ms: Date.now() - began } satisfies TaskEvent);
  return { id: task.id, outcome: 'done' };
}

/** The types of the events on a task's topic; anyone may publish there, so an event that is no object counts as nothing. */
export async function taskHistory(log: EventLog, topic: string): Promise<unknown[]> {
  return (await log.read(topic, '0')).events.map((event) => (event.data as Partial<TaskEvent> | null)?.type);
}

export function hasEnded(history: unknown[]): boolean {
  return history.includes('done') || history.includes('failed');
}
