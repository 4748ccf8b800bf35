import type { APIRoute } from 'astro';

/** POST /api/session/visits → {visits}: counts this session's visits, in whichever worker answers. */
export const POST: APIRoute = async ({ session }) => {
  if (!session) return Response.json({ error: 'sessions are not configured' }, { status: 500 });
  const visits = ((await session.get('visits')) ?? 0) + 1;
  session.set('visits', visits);
  return Response.json({ visits, name: (await session.get('name')) ?? null }, { headers: { 'Cache-Control': 'no-store' } });
};
