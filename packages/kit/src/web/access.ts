// astro-cluster-kit/access: the pieces a site puts in its own middleware and
// endpoints to decide who may see what. The kit decides nothing for the site
// here (only the Host check runs in the worker, before the site); the
// reference site's src/middleware.ts shows them in use.
import { createHash, timingSafeEqual } from 'node:crypto';
import { hasEventsToken } from '../events/public.js';
import { kitContext } from '../runtime/context.js';
import { isSessionId } from '../sessions/keys.js';

/** The part of Astro's session these calls use (Astro.session, context.session). */
export interface SessionLike {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): void;
  regenerate(): Promise<void> | void;
  readonly sessionID?: string | undefined;
}

/** The session key that marks an operator sign-in. */
export const operatorKey = 'operator';

// The same check as astro-cluster-kit/events offers, offered here too for a site's middleware.
export { hasEventsToken };

/** An operator: the bearer token (commands, agents, scripts), or a session signed in with OPERATOR_PASSWORD. */
export async function isOperator(request: Request, session: SessionLike | undefined): Promise<boolean> {
  // A script that sends a token is judged by it alone: a wrong one is refused without touching the session store.
  if (request.headers.has('authorization')) return hasEventsToken(request);
  return session !== undefined && (await session.get(operatorKey)) === true;
}

/** Whether the kit has an operator password (OPERATOR_PASSWORD); without one only the token opens operator pages. */
export function operatorSignInEnabled(): boolean {
  return kitContext().settings.operatorPassword !== undefined;
}

/**
 * Signs the session in as operator when `password` is OPERATOR_PASSWORD.
 * The session id is regenerated first, so an id planted before sign-in
 * (session fixation) never becomes an operator's. False, and no change,
 * when the password is wrong or unset.
 */
export async function signInOperator(session: SessionLike, password: string): Promise<boolean> {
  const expected = kitContext().settings.operatorPassword;
  if (expected === undefined || !sameSecret(password, expected)) return false;
  await session.regenerate();
  session.set(operatorKey, true);
  return true;
}

function sameSecret(given: string, expected: string): boolean {
  // Hash both first: equal lengths for timingSafeEqual, and no length leaked.
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** A stable, one-way label for a session id (or any secret): what a site may store in events, never the id itself. */
export function ownerOf(sessionId: string): string {
  return createHash('sha256').update(`astro-cluster-kit owner\0${sessionId}`).digest('hex').slice(0, 32);
}

export { isSessionId };

/**
 * Whether a browser's post comes from this site: its Origin (else Referer)
 * names the request's own host. A request with neither is not a browser's
 * (curl, a script) and passes; browsers send Origin on every POST by fetch
 * or form. Astro's own check covers only form content types: a text/plain
 * or JSON post needs this one.
 */
export function sameOrigin(request: Request): boolean {
  const host = request.headers.get('host') ?? new URL(request.url).host;
  const source = request.headers.get('origin') ?? request.headers.get('referer');
  if (source === null) return true;
  try {
    return new URL(source).host.toLowerCase() === host.toLowerCase();
  } catch {
    return false; // "null" (a sandboxed frame, a file: page) or garbage
  }
}

export type RateLimitResult = { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

const buckets = new Map<string, Bucket>();
/** Buckets kept at most; past it, those with a token to spare are forgotten first (they would pass anyway). */
const MAX_BUCKETS = 50_000;

/**
 * A token bucket per key (a session, an address): `perMinute` requests at
 * once, refilled evenly over a minute. In this process only, so with N
 * workers a key gets up to N × perMinute in the worst case: enough to stop a
 * flood, cheap (no I/O), and exact limits belong in the event log.
 */
export function rateLimit(key: string, { perMinute, now = Date.now() }: { perMinute: number; now?: number }): RateLimitResult {
  const perMs = perMinute / 60_000;
  const bucket = buckets.get(key) ?? { tokens: perMinute, at: now };
  bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.at) * perMs);
  bucket.at = now;
  if (!buckets.has(key)) {
    if (buckets.size >= MAX_BUCKETS) prune(now, perMs);
    buckets.set(key, bucket);
  }
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return { ok: true, remaining: Math.floor(bucket.tokens) };
  }
  return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)) };
}

function prune(now: number, perMs: number): void {
  for (const [key, bucket] of buckets) if (bucket.tokens + (now - bucket.at) * perMs >= 1) buckets.delete(key);
  // Still full of drained buckets (a flood of new keys): forget the oldest half rather than grow.
  if (buckets.size >= MAX_BUCKETS) for (const key of [...buckets.keys()].slice(0, MAX_BUCKETS / 2)) buckets.delete(key);
}
