import type { APIRoute } from 'astro';
import { taskStream } from 'astro-cluster-kit/events';
import { notAllowed } from '../../../../lib/respond';

export const prerender = false;

/** GET /api/tasks/:id/stream: the task's events, ending with `done` or `failed`; 204 for a reconnect after the end. */
export const ALL: APIRoute = ({ request, params }) => {
  if (request.method !== 'GET') return notAllowed('GET', 'GET to stream a task');
  return taskStream(request, params.id ?? '');
};
