import type { APIRoute } from 'astro';
import { metricsResponse } from 'astro-cluster-kit/metrics';

export const prerender = false;

/**
 * GET /metrics for an operator session (the middleware refuses anyone
 * else): the kit's worker answers a request carrying the events token
 * itself, and passes one with a cookie on to here.
 */
export const GET: APIRoute = () => metricsResponse();
