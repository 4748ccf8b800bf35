import { randomBytes } from 'node:crypto';
import type { EventLog, StoredEvent } from './types.js';

/**
 * The request→stream flow: a web worker queues a task and answers at once;
 * the task-runner agent (a singleton under bin/mh) runs it and publishes
 * its progress on the task's own topic, which any worker can stream,
 * before, during or after the run.
 */
export type TaskEvent =
  | { type: 'queued'; id: string; prompt: string; owner?: string }
  | { type: 'started'; by: number }
  | { type: 'progress'; percent: number; token: string }
  /** A runner took up a task another one started and did not finish (it died or froze): it goes on from `step`, never running a step twice. */
  | { type: 'reclaimed'; by: number; step: number; from: string }
  | { type: 'done'; reply: string; words: number; ms: number }
  | { type: 'failed'; reason: string };

/** Where queued tasks wait for the runner. */
export const taskQueueTopic = 'tasks';

export const taskIdPattern = /^[0-9a-f]{12}$/;

export function taskTopic(id: string): string {
  return `task-${id}`;
}

export function taskStreamPath(id: string): string {
  return `/api/tasks/${id}/stream`;
}

export function isTaskEnd(event: StoredEvent): boolean {
  const type = (event.data as Partial<TaskEvent> | null)?.type;
  return type === 'done' || type === 'failed';
}

/** Queues a task: its own topic first (so its stream exists before anyone learns the id), then the runner's queue. */
export async function enqueueTask(log: EventLog, prompt: string, owner?: string): Promise<{ id: string; stream: string }> {
  const id = randomBytes(6).toString('hex');
  const queued: TaskEvent = { type: 'queued', id, prompt, ...(owner !== undefined && { owner }) };
  await log.publish(taskTopic(id), queued);
  await log.publish(taskQueueTopic, queued);
  return { id, stream: taskStreamPath(id) };
}

/** A prompt the demo task accepts: text, 1 to 2000 characters. */
export function validPrompt(body: unknown): string | undefined {
  const prompt = (body as { prompt?: unknown } | null)?.prompt;
  if (typeof prompt !== 'string') return undefined;
  const trimmed = prompt.trim();
  return trimmed.length >= 1 && trimmed.length <= 2000 ? trimmed : undefined;
}

/** The owner recorded in a task's first event (its `queued`), if any. */
export function taskOwner(first: StoredEvent | undefined): string | undefined {
  const data = first?.data as Partial<Extract<TaskEvent, { type: 'queued' }>> | null | undefined;
  return data?.type === 'queued' && typeof data.owner === 'string' ? data.owner : undefined;
}
