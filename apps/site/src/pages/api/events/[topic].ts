import type { APIRoute } from 'astro';
import { isOperator, sameOrigin } from 'astro-cluster-kit/access';
import { isTopic, publish, readJsonBody, stream } from 'astro-cluster-kit/events';
import { isInternalTopic } from '../../../lib/access';
import { answer, bodyError, notAllowed, unavailable } from '../../../lib/respond';

export const prerender = false;

const operatorsOnly = (what: string) =>
  answer(401, { error: `${what} needs Authorization: Bearer <EVENTS_TOKEN> or an operator sign-in (/sign-in)` }, { 'WWW-Authenticate': 'Bearer' });

/**
 * /api/events/:topic — GET streams the topic as Server-Sent Events (resuming
 * from Last-Event-ID or ?lastEventId=); POST publishes the JSON body as an
 * event. Internal topics (audit, ops, tasks, task-*) stream to operators
 * only; publishing is for operators (the token, or an operator session).
 */
export const ALL: APIRoute = async ({ request, params, session }) => {
  const topic = params.topic ?? '';
  if (request.method === 'GET') {
    if (isInternalTopic(topic) && !(await isOperator(request, session))) return operatorsOnly(`the ${topic} topic`);
    return stream(request, topic);
  }
  if (request.method !== 'POST') return notAllowed('GET, POST', 'GET to stream, POST to publish');
  // Authorization first: an anonymous client learns nothing about topics or bodies.
  if (!(await isOperator(request, session))) return operatorsOnly('publishing');
  if (!sameOrigin(request)) return answer(403, { error: 'cross-site posts are refused' });
  if (!isTopic(topic)) return answer(400, { error: 'a topic is 1 to 64 of a-z, 0-9 and "-"' });
  const body = await readJsonBody(request);
  if (!body.ok) return bodyError(body);
  try {
    return answer(201, await publish(topic, body.value));
  } catch (error) {
    return unavailable(error);
  }
};
