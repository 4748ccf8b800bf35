import type { APIRoute } from 'astro';
import { sessionUnavailable } from '../../../lib/respond';

/**
 * POST /api/session/visits → {visits}: counts this session's visits, in whichever worker answers. A store that
 * cannot be read answers 503 here; one that cannot be written fails when Astro saves the session after this
 * returns, and the kit's worker answers that 503 (with the cause) instead of this.
 */
export const POST: APIRoute = async ({ session }) => {
  if (!session) return Response.json({ error: 'sessions are not configured' }, { status: 500 });
  try {
    const visits = ((await session.get('visits')) ?? 0) + 1;
    session.set('visits', visits);
    return Response.json({ visits, name: (await session.get('name')) ?? null }, { headers: { 'Cache-Control': 'no-store' } });
  } catch (error) {
    return sessionUnavailable(error);
  }
};
