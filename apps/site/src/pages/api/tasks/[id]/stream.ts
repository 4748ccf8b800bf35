import type { APIRoute } from 'astro';
import { taskStream } from 'astro-cluster-kit/events';
import { taskCaller } from '../../../../lib/access';
import { answer, notAllowed } from '../../../../lib/respond';

export const prerender = false;

/**
 * GET /api/tasks/:id/stream: the task's events, ending with `done` or
 * `failed`; 204 for a reconnect after the end. Its owner's session only
 * (403 for anyone else's), or the token.
 */
export const ALL: APIRoute = async ({ request, params, session, cookies }) => {
  if (request.method !== 'GET') return notAllowed('GET', 'GET to stream a task');
  const caller = await taskCaller(request, session, cookies);
  if (!caller) return answer(401, { error: 'sign in first (/session), or send Authorization: Bearer <EVENTS_TOKEN>' });
  return taskStream(request, params.id ?? '', caller.token ? {} : { owner: caller.owner });
};
