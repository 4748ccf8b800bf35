import type { APIRoute } from 'astro';
import { workerStats } from 'astro-cluster-kit/events';
import { answer, notAllowed } from '../../lib/respond';

export const prerender = false;

/** GET /api/stats: what this worker holds open right now (streams, subscriptions, memory), for the ops page and leak tests. */
export const ALL: APIRoute = ({ request }) => {
  if (request.method !== 'GET') return notAllowed('GET', 'GET only');
  return answer(200, workerStats(), { 'Cache-Control': 'no-store' });
};
