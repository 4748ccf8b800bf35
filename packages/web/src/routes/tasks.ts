import type { IncomingMessage, ServerResponse } from 'node:http';
import { enqueueTask, isTaskEnd, readJsonBody, streamEvents, taskIdPattern, taskTopic, validPrompt, type TaskEvent } from '@kit/events';
import type { EventRouteContext } from './events.js';
import { lastEventId } from './events.js';
import { sendBodyError, sendJson, sendUnavailable } from './respond.js';

/** POST /api/tasks {prompt}: queues a task for the task-runner agent; 202 with where to stream it. */
export function createTaskRoute(context: EventRouteContext) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'POST a task' }, { Allow: 'POST' });
    const body = await readJsonBody(req);
    if (!body.ok) return sendBodyError(res, body);
    const prompt = validPrompt(body.value);
    if (!prompt) return sendJson(res, 400, { error: 'expected {"prompt": "…"} with 1 to 2000 characters' });
    try {
      sendJson(res, 202, await enqueueTask(context.log, prompt), { 'x-worker': context.worker });
    } catch (error) {
      sendUnavailable(res, error);
    }
  };
}

/**
 * GET /api/tasks/:id/stream: the task's events from its start (or after
 * Last-Event-ID), as `queued`, `started`, `progress`… and a final `done`
 * (or `failed`), after which the stream ends. A reconnect after the end gets
 * 204, which tells EventSource to stop.
 */
export function taskStreamRoute(context: EventRouteContext) {
  return async (req: IncomingMessage, res: ServerResponse, params: Record<string, string>): Promise<void> => {
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'GET to stream a task' }, { Allow: 'GET' });
    const id = params.id ?? '';
    if (!taskIdPattern.test(id)) return sendJson(res, 400, { error: 'a task id is 12 hex digits' });
    const topic = taskTopic(id);
    if (!(await context.log.exists(topic))) return sendJson(res, 404, { error: `no task ${id}` });
    const after = lastEventId(req) ?? '0';
    if (after !== '0') {
      const [last] = await context.log.latest(topic, 1);
      const { events, reset } = await context.log.read(topic, after);
      if (last && isTaskEnd(last) && events.length === 0 && !reset) {
        res.writeHead(204, { 'x-worker': context.worker });
        return void res.end();
      }
    }
    return streamEvents(req, res, {
      log: context.log,
      topic,
      after,
      heartbeatMs: context.settings.sseHeartbeatMs,
      retryMs: context.settings.sseRetryMs,
      worker: context.worker,
      streams: context.streams,
      eventName: (event) => (event.data as Partial<TaskEvent> | null)?.type,
      isLast: isTaskEnd,
    });
  };
}
