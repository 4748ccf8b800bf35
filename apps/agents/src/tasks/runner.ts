import { setTimeout as sleep } from 'node:timers/promises';
import { taskTopic, type EventLog, type StoredEvent, type TaskEvent } from 'astro-cluster-kit/event-log';
import { composeReply } from './reply.js';

export type TaskOutcome = 'done' | 'skipped' | 'interrupted' | 'invalid';

/**
 * Runs one queued task, at most once: a task whose own topic already shows
 * an end was handled before (the runner stopped before it could record
 * that); one that shows `started` without an end was cut off by a crash and
 * is reported failed, never run a second time.
 */
export async function runTask(log: EventLog, queued: StoredEvent, stepMs: number): Promise<{ id: string; outcome: TaskOutcome }> {
  const task = queued.data as Partial<Extract<TaskEvent, { type: 'queued' }>> | null;
  if (task?.type !== 'queued' || typeof task.id !== 'string' || typeof task.prompt !== 'string') return { id: '?', outcome: 'invalid' };
  const topic = taskTopic(task.id);
  const history = (await log.read(topic, '0')).events.map((event) => (event.data as TaskEvent).type);
  if (history.includes('done') || history.includes('failed')) return { id: task.id, outcome: 'skipped' };
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
