import { isTopic, taskIdPattern, taskTopic, validPrompt, type StoredEvent } from 'astro-cluster-kit/event-log';

/** A queued task the runner can run: its id a task id, its prompt text it accepts. */
export interface QueuedTask {
  id: string;
  prompt: string;
}

export type Verdict =
  | { ok: true; task: QueuedTask }
  /** `task`: the id the message claims, when it is a string at all (for the record). */
  | { ok: false; reason: string; task?: string };

/**
 * Reads a message of the task queue, never throwing: anything on the queue
 * was written by some other process (or by hand), so every field is checked
 * here, up front, before any of it reaches a topic name or the reply.
 */
export function readQueued(event: StoredEvent): Verdict {
  const data: unknown = event.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return { ok: false, reason: `not a queued task: its data is ${kindOf(data)}` };
  const { type, id } = data as { type?: unknown; id?: unknown };
  const task = typeof id === 'string' ? id : undefined;
  if (type !== 'queued') return { ok: false, reason: `not a queued task: its type is ${clip(JSON.stringify(type) ?? 'missing')}`, task };
  if (task === undefined) return { ok: false, reason: id === undefined ? 'the task id is missing' : `the task id is ${kindOf(id)}, not text` };
  if (!taskIdPattern.test(task)) return { ok: false, reason: `the task id ${clip(JSON.stringify(task))} is not a task id (${taskIdPattern.source})`, task };
  const prompt = validPrompt(data);
  if (prompt === undefined) return { ok: false, reason: promptProblem((data as { prompt?: unknown }).prompt), task };
  return { ok: true, task: { id: task, prompt } };
}

/** The task topic a message names, when it names one that can be published to (its id need not be a well-formed task id). */
export function claimedTopic(task: string | undefined): string | undefined {
  return task !== undefined && isTopic(taskTopic(task)) ? taskTopic(task) : undefined;
}

function promptProblem(prompt: unknown): string {
  if (typeof prompt !== 'string') return `the prompt is ${kindOf(prompt)}, not text`;
  return prompt.trim() === '' ? 'the prompt is empty' : `the prompt is ${prompt.trim().length} characters long (at most 2000)`;
}

function kindOf(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Reasons end up on the audit topic and in the agent's log: a message's own text is cut short there (the set-aside file keeps it whole). */
export function clip(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
