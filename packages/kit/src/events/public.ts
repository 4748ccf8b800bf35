// astro-cluster-kit/events: what a site calls from its own endpoints, behind
// its own middleware and auth. The kit's server reserves only the health
// path; the site mounts these wherever it wants:
//
//   // src/pages/api/events/[topic].ts
//   import { publish, stream } from 'astro-cluster-kit/events';
//   export const GET = ({ request, params }) => stream(request, params.topic);
//   export const POST = async ({ request, params }) => Response.json(await publish(params.topic, await request.json()), { status: 201 });
import { errors } from '../core/index.cjs';
import { instanceId, kitContext } from '../runtime/context.js';
import { hasBearer, json, readJsonBody, type BodyResult } from './http.js';
import { eventStream, lastEventId, type EventStreamOptions } from './sse.js';
import { enqueueTask, isTaskEnd, taskIdPattern, taskOwner, taskTopic, validPrompt, type TaskEvent } from './tasks.js';
import { isTopic } from './topics.js';
import type { StoredEvent } from './types.js';

/**
 * Appends `data` to `topic` in the shared event log (files under LOGS_DIR,
 * or Redis Streams): every stream of the topic, on any worker or host, gets
 * it once, in order. Resolves once it is stored.
 */
export async function publish(topic: string, data: unknown): Promise<{ id: string }> {
  if (!isTopic(topic)) throw errors.badTopic(topic);
  const event = await kitContext().log.publish(topic, data);
  return { id: event.id };
}

/**
 * The topic as Server-Sent Events (text/event-stream), resuming after
 * Last-Event-ID or ?lastEventId=, with heartbeats, `event: reset` when the
 * asked id is past retention, and a reconnect hint when the worker drains.
 * A topic that is not 1 to 64 of a-z, 0-9 and "-" gets a 400; a log that
 * cannot be read (Redis away) a 503 with Retry-After, said before the
 * stream begins rather than a 200 that ends at once.
 */
export async function stream(request: Request, topic: string, options: EventStreamOptions = {}): Promise<Response> {
  const context = kitContext();
  if (!isTopic(topic)) return json(400, { error: 'a topic is 1 to 64 of a-z, 0-9 and "-"' }, { 'x-worker': context.worker });
  try {
    await context.log.latestId(topic);
  } catch (error) {
    return json(503, { error: `the event log is not available: ${(error as Error).message}` }, { 'x-worker': context.worker, 'Retry-After': '5', 'Cache-Control': 'no-store' });
  }
  return eventStream(context, request, topic, options);
}

/** Whether the request carries `Authorization: Bearer <EVENTS_TOKEN>` (the token the kit's commands and agents use). */
export async function hasEventsToken(request: Request): Promise<boolean> {
  return hasBearer(request, await kitContext().token());
}

/**
 * Queues a task for the task-runner agent; resolves to its id and the path
 * its stream is mounted at by the reference site. `owner` (a label such as
 * ownerOf(session id) from astro-cluster-kit/access, never a secret: it is
 * stored in the event) is recorded so taskStream can refuse anyone else.
 */
export async function queueTask(prompt: string, options: { owner?: string } = {}): Promise<{ id: string; stream: string }> {
  return enqueueTask(kitContext().log, prompt, options.owner);
}

/**
 * A task's events from its start (or after Last-Event-ID): `queued`,
 * `started`, `progress`… and a final `done` (or `failed`), after which the
 * stream ends. 404 for an unknown task; a reconnect after the end gets 204,
 * which tells EventSource to stop. With `owner`, 403 unless the task was
 * queued with that owner; without it, anyone may read (the caller checked).
 */
export async function taskStream(request: Request, id: string, options: { owner?: string } = {}): Promise<Response> {
  const context = kitContext();
  const headers = { 'x-worker': context.worker };
  if (!taskIdPattern.test(id)) return json(400, { error: 'a task id is 12 hex digits' }, headers);
  const topic = taskTopic(id);
  if (!(await context.log.exists(topic))) return json(404, { error: `no task ${id}` }, headers);
  if (options.owner !== undefined) {
    // The first event is the task's `queued`, which names its owner.
    const { events } = await context.log.read(topic, '0');
    if (taskOwner(events[0]) !== options.owner) return json(403, { error: `task ${id} is not yours` }, headers);
  }
  const after = lastEventId(request) ?? '0';
  if (after !== '0') {
    const [last] = await context.log.latest(topic, 1);
    const { events, reset } = await context.log.read(topic, after);
    if (last && isTaskEnd(last) && events.length === 0 && !reset) return new Response(null, { status: 204, headers });
  }
  return eventStream(context, request, topic, {
    after,
    eventName: (event: StoredEvent) => (event.data as Partial<TaskEvent> | null)?.type,
    isLast: isTaskEnd,
  });
}

/** What this worker holds open right now (streams, subscriptions, memory): for an ops page and leak tests. */
export function workerStats() {
  const { log, streams, build, startedAt } = kitContext();
  const memory = process.memoryUsage();
  return {
    pid: process.pid,
    instance: instanceId(),
    build: build?.id ?? 'dev',
    uptimeMs: Date.now() - startedAt,
    streams: streams.size,
    events: { backend: log.backend, ...log.stats() },
    memory: { rss: memory.rss, heapUsed: memory.heapUsed },
  };
}

/** Which process serves this request: worker number, pid, build id and Astro version of the release. */
export function workerInfo(): { instance: string; pid: number; build: string; astro: string | undefined } {
  const { worker, build } = kitContext();
  return { instance: worker, pid: process.pid, build: build?.id ?? 'dev', astro: build?.astro };
}

/** The shared event log itself, for reads the calls above do not cover (an audit page's history, say). */
export function eventLog() {
  return kitContext().log;
}

export { isTopic, json, lastEventId, readJsonBody, validPrompt, type BodyResult, type EventStreamOptions, type StoredEvent, type TaskEvent };
export { auditTopic, type AuditEntry } from './audit.js';
/** The storage error behind a failure (a full disk, a path that is not a folder…): answer 503 with it. */
export { storageFault } from '../core/index.cjs';
