import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Settings } from '@kit/core';
import { hasBearer, isTopic, readJsonBody, streamEvents, type EventLog } from '@kit/events';
import type { LongLivedResponses } from '@kit/server';
import { sendBodyError, sendJson, sendUnavailable } from './respond.js';

export interface EventRouteContext {
  log: EventLog;
  token: string;
  settings: Settings;
  streams: LongLivedResponses;
  worker: string;
}

/**
 * /api/events/:topic — GET streams the topic as Server-Sent Events (resuming
 * from Last-Event-ID or ?lastEventId=); POST publishes the JSON body as an
 * event, with `Authorization: Bearer $EVENTS_TOKEN`.
 */
export function eventsRoute(context: EventRouteContext) {
  return async (req: IncomingMessage, res: ServerResponse, params: Record<string, string>): Promise<void> => {
    const topic = params.topic ?? '';
    const badTopic = () => sendJson(res, 400, { error: 'a topic is 1 to 64 of a-z, 0-9 and "-"' });
    if (req.method === 'GET') {
      if (!isTopic(topic)) return badTopic();
      return streamEvents(req, res, {
        log: context.log,
        topic,
        after: lastEventId(req),
        heartbeatMs: context.settings.sseHeartbeatMs,
        retryMs: context.settings.sseRetryMs,
        worker: context.worker,
        streams: context.streams,
      });
    }
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'GET to stream, POST to publish' }, { Allow: 'GET, POST' });
    // Authorization first: an anonymous client learns nothing about topics or bodies.
    if (!hasBearer(req, context.token)) {
      return sendJson(res, 401, { error: 'publishing needs Authorization: Bearer <EVENTS_TOKEN>' }, { 'WWW-Authenticate': 'Bearer' });
    }
    if (!isTopic(topic)) return badTopic();
    const body = await readJsonBody(req);
    if (!body.ok) return sendBodyError(res, body);
    try {
      const event = await context.log.publish(topic, body.value);
      sendJson(res, 201, { id: event.id }, { 'x-worker': context.worker });
    } catch (error) {
      sendUnavailable(res, error);
    }
  };
}

/** The id to resume after: the Last-Event-ID header (reconnects), or ?lastEventId= (a browser's first connection). */
export function lastEventId(req: IncomingMessage): string | undefined {
  const header = req.headers['last-event-id'];
  if (typeof header === 'string' && header.trim() !== '') return header.trim().slice(0, 64);
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams.get('lastEventId');
  return query && query.trim() !== '' ? query.trim().slice(0, 64) : undefined;
}
