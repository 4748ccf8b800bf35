import assert from 'node:assert/strict';
import { taskTopic, type EventLog, type TaskEvent } from 'astro-cluster-kit/event-log';
import { waitFor } from './wait.js';

/** One event of a task's topic, as the runner published it. */
export type TaskSeen = Partial<TaskEvent> & { type?: string };

/** Every event of a task's own topic, from its `queued`. */
export async function taskHistory(log: EventLog, id: string): Promise<TaskSeen[]> {
  return (await log.read(taskTopic(id), '0')).events.map((event) => event.data as TaskSeen);
}

/** Waits until every task's topic holds a `done` (or `failed`, which the checks then report). */
export async function allTasksEnded(log: EventLog, ids: string[], timeoutMs: number): Promise<void> {
  const ended = new Set<string>();
  await waitFor(`all ${ids.length} tasks done`, async () => {
    for (const id of ids) if (!ended.has(id) && (await taskHistory(log, id)).some((e) => e.type === 'done' || e.type === 'failed')) ended.add(id);
    return ended.size === ids.length;
  }, { timeoutMs, intervalMs: 500 });
}

/**
 * Checks that a task ran exactly once: started once, done once, never failed,
 * each step once and in order (the tokens make up the reply, the percentages
 * only grow). Returns its `reclaimed` events, which only `reclaimable` tasks may have.
 */
export function assertRanOnce(id: string, events: TaskSeen[], reclaimable: boolean): Extract<TaskEvent, { type: 'reclaimed' }>[] {
  const types = events.map((e) => e.type);
  assert.equal(types.filter((t) => t === 'started').length, 1, `task ${id} started once: ${types.join(',')}`);
  assert.equal(types.filter((t) => t === 'done').length, 1, `task ${id} done once: ${types.join(',')}`);
  assert.ok(!types.includes('failed'), `task ${id} did not fail`);
  const progress = events.filter((e): e is Extract<TaskEvent, { type: 'progress' }> => e.type === 'progress');
  const done = events.find((e): e is Extract<TaskEvent, { type: 'done' }> => e.type === 'done')!;
  assert.equal(progress.map((e) => e.token).join(''), done.reply, `task ${id}: every token once`);
  assert.equal(progress.length, done.words);
  progress.forEach((e, i) => i > 0 && assert.ok(e.percent >= progress[i - 1]!.percent));
  const reclaimed = events.filter((e): e is Extract<TaskEvent, { type: 'reclaimed' }> => e.type === 'reclaimed');
  if (!reclaimable) assert.equal(reclaimed.length, 0, `task ${id} was not reclaimed`);
  return reclaimed;
}
