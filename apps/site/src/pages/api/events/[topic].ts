import type { APIRoute } from 'astro';
import { hasEventsToken, isTopic, publish, readJsonBody, stream } from 'astro-cluster-kit/events';
import { answer, bodyError, notAllowed, unavailable } from '../../../lib/respond';

export const prerender = false;

/**
 * /api/events/:topic — GET streams the topic as Server-Sent Events (resuming
 * from Last-Event-ID or ?lastEventId=); POST publishes the JSON body as an
 * event, with `Authorization: Bearer $EVENTS_TOKEN`.
 */
export const ALL: APIRoute = async ({ request, params }) => {
  const topic = params.topic ?? '';
  if (request.method === 'GET') return stream(request, topic);
  if (request.method !== 'POST') return notAllowed('GET, POST', 'GET to stream, POST to publish');
  // Authorization first: an anonymous client learns nothing about topics or bodies.
  if (!(await hasEventsToken(request))) {
    return answer(401, { error: 'publishing needs Authorization: Bearer <EVENTS_TOKEN>' }, { 'WWW-Authenticate': 'Bearer' });
  }
  if (!isTopic(topic)) return answer(400, { error: 'a topic is 1 to 64 of a-z, 0-9 and "-"' });
  const body = await readJsonBody(request);
  if (!body.ok) return bodyError(body);
  try {
    return answer(201, await publish(topic, body.value));
  } catch (error) {
    return unavailable(error);
  }
};
