import type { APIRoute } from 'astro';
import { rateLimit, sameOrigin } from 'astro-cluster-kit/access';
import { queueTask, readJsonBody, validPrompt } from 'astro-cluster-kit/events';
import { taskCaller } from '../../lib/access';
import { answer, bodyError, notAllowed, unavailable } from '../../lib/respond';

export const prerender = false;

/** Tasks a signed-in session may queue per minute (per worker: the limiter is in-process). */
const TASKS_PER_MINUTE = 10;

/**
 * POST /api/tasks {prompt}: queues a task for the task-runner agent; 202 with
 * where to stream it. A signed-in session (from this site's pages, rate
 * limited) or the token; the task records its owner, who alone may stream it.
 */
export const ALL: APIRoute = async ({ request, session, cookies }) => {
  if (request.method !== 'POST') return notAllowed('POST', 'POST a task');
  const caller = await taskCaller(request, session, cookies);
  if (!caller) return answer(401, { error: 'sign in first (/session), or send Authorization: Bearer <EVENTS_TOKEN>' });
  // Astro's CSRF check covers form content types only; a text/plain or JSON post from elsewhere stops here.
  if (!caller.token && !sameOrigin(request)) return answer(403, { error: 'cross-site posts are refused' });
  if (!caller.token) {
    const limit = rateLimit(`tasks:${caller.owner}`, { perMinute: TASKS_PER_MINUTE });
    if (!limit.ok) return answer(429, { error: `at most ${TASKS_PER_MINUTE} tasks a minute` }, { 'Retry-After': String(limit.retryAfterSeconds) });
  }
  const body = await readJsonBody(request);
  if (!body.ok) return bodyError(body);
  const prompt = validPrompt(body.value);
  if (!prompt) return answer(400, { error: 'expected {"prompt": "…"} with 1 to 2000 characters' });
  try {
    return answer(202, await queueTask(prompt, caller.token ? {} : { owner: caller.owner }));
  } catch (error) {
    return unavailable(error);
  }
};
