import type { APIRoute } from 'astro';
import { queueTask, readJsonBody, validPrompt } from 'astro-cluster-kit/events';
import { answer, bodyError, notAllowed, unavailable } from '../../lib/respond';

export const prerender = false;

/** POST /api/tasks {prompt}: queues a task for the task-runner agent; 202 with where to stream it. */
export const ALL: APIRoute = async ({ request }) => {
  if (request.method !== 'POST') return notAllowed('POST', 'POST a task');
  const body = await readJsonBody(request);
  if (!body.ok) return bodyError(body);
  const prompt = validPrompt(body.value);
  if (!prompt) return answer(400, { error: 'expected {"prompt": "…"} with 1 to 2000 characters' });
  try {
    return answer(202, await queueTask(prompt));
  } catch (error) {
    return unavailable(error);
  }
};
