import { setTimeout as sleep } from 'node:timers/promises';
import { taskTopic, type EventLog, type Reclaim, type TaskEvent } from 'astro-cluster-kit/event-log';
import { composeReply } from './reply.js';
import type { QueuedTask } from './validate.js';

/** `reclaimed`: taken up where a runner that died or froze left it. */
export type TaskOutcome = 'done' | 'skipped' | 'reclaimed';

export interface RunOptions {
  stepMs: number;
  /** Before each step: the agent's lock check (it exits if the lock is lost) and keeping the task claimed. */
  beforeStep?(): Promise<void>;
  /** The queue delivered it before, to a runner that did not finish it. */
  reclaimed?: Reclaim | undefined;
}

/**
 * Runs one queued task (already checked by readQueued), each step once: a
 * task whose own topic already shows an end was handled before (the runner
 * stopped before it could record that) and is skipped; one that shows
 * `started` without an end was cut off (its runner died or froze): it is
 * reported (`reclaimed`) and goes on after the last step published, with the
 * same reply, so no step runs twice. The lock is checked before each step, so
 * a frozen runner that resumes stops before its next one.
 */
export async function runTask(log: EventLog, task: QueuedTask, options: RunOptions): Promise<{ id: string; outcome: TaskOutcome; step: number }> {
  const topic = taskTopic(task.id);
  const history = await taskHistory(log, topic);
  const types = history.map((event) => event?.type);
  if (hasEnded(types)) return { id: task.id, outcome: 'skipped', step: 0 };

  const began = Date.now();
  const started = history.find((event): event is Extract<TaskEvent, { type: 'started' }> => event?.type === 'started' && typeof event.by === 'number');
  // The reply is the first runner's: a reclaimed task goes on with the same words.
  const tokens = composeReply(task.prompt, started?.by ?? process.pid);
  const step = Math.min(tokens.length, types.filter((type) => type === 'progress').length);
  await options.beforeStep?.();
  if (started) {
    await log.publish(topic, { type: 'reclaimed', by: process.pid, step, from: options.reclaimed?.from ?? 'a runner that stopped' } satisfies TaskEvent);
  } else {
    await log.publish(topic, { type: 'started', by: process.pid } satisfies TaskEvent);
  }
  for (let index = step; index < tokens.length; index++) {
    if (options.stepMs > 0) await sleep(options.stepMs);
    await options.beforeStep?.();
    await log.publish(topic, { type: 'progress', percent: Math.round(((index + 1) / tokens.length) * 100), token: tokens[index]! } satisfies TaskEvent);
  }
  const reply = tokens.join('');
  await options.beforeStep?.();
  await log.publish(topic, { type: 'done', reply, words: tokens.length, ms: Date.now() - began } satisfies TaskEvent);
  return { id: task.id, outcome: started ? 'reclaimed' : 'done', step };
}

/** The events on a task's topic; anyone may publish there, so an event that is no object counts as nothing. */
export async function taskHistory(log: EventLog, topic: string): Promise<(Partial<TaskEvent> | undefined)[]> {
  return (await log.read(topic, '0')).events.map((event) => (typeof event.data === 'object' && event.data !== null ? (event.data as Partial<TaskEvent>) : undefined));
}

export function hasEnded(types: unknown[]): boolean {
  return types.includes('done') || types.includes('failed');
}
