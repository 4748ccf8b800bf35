import type { APIContext, AstroCookies } from 'astro';
import { hasEventsToken, isSessionId, ownerOf } from 'astro-cluster-kit/access';

/** The session cookie's name (astro.config.ts: session.cookie.name). */
export const sessionCookie = 'kit-session';

/** Topics that hold other people's data or the machine's: streamed by operators only. */
export function isInternalTopic(topic: string): boolean {
  return topic === 'audit' || topic === 'ops' || topic === 'metrics' || topic === 'tasks' || topic.startsWith('task-');
}

type Session = APIContext['session'];

/**
 * Who may queue and read tasks: the token holder (any task, no owner), or a
 * signed-in session, whose owner label is a hash of its id (the id itself is
 * a credential and never goes into the event log). Undefined: neither.
 */
export async function taskCaller(request: Request, session: Session, cookies: AstroCookies): Promise<{ token: true } | { token: false; owner: string } | undefined> {
  if (await hasEventsToken(request)) return { token: true };
  if (!session || !isSessionId(cookies.get(sessionCookie)?.value)) return undefined;
  const signedIn = (await session.get('name')) !== undefined || (await session.get('operator')) === true;
  const id = session.sessionID;
  return signedIn && id ? { token: false, owner: ownerOf(id) } : undefined;
}
