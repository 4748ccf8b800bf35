import { defineMiddleware } from 'astro:middleware';
import { isOperator, isSessionId } from 'astro-cluster-kit/access';
import { answer } from './lib/respond';
import { sessionCookie } from './lib/access';

// Pages and APIs that show the machine (pids, paths, agents' logs, memory):
// operators only. The /api/events and /api/tasks endpoints check their own
// callers, since who may read depends on the topic or the task.
const operatorPages = new Set(['/ops', '/agents', '/audit']);
// /metrics: the kit answers a token itself; a request with a cookie reaches src/pages/metrics.ts through here.
const operatorApis = new Set(['/api/stats', '/metrics']);

export const onRequest = defineMiddleware(async (context, next) => {
  const { request, session, cookies } = context;
  // A cookie that cannot be a session id ("..", 250 characters) is no
  // session: start a fresh one rather than let anything use it as a key.
  const cookie = cookies.get(sessionCookie)?.value;
  if (cookie !== undefined && !isSessionId(cookie)) await session?.regenerate();

  const path = context.url.pathname.replace(/\/+$/, '') || '/';
  if (operatorApis.has(path) && !(await isOperator(request, session))) {
    return answer(401, { error: 'operators only: Authorization: Bearer <EVENTS_TOKEN>, or sign in on /sign-in' }, { 'WWW-Authenticate': 'Bearer' });
  }
  if (operatorPages.has(path) && !(await isOperator(request, session))) {
    return context.redirect(`/sign-in?next=${encodeURIComponent(path)}`, 303);
  }
  return next();
});
