import type { Driver } from 'unstorage';

/**
 * What a session id may look like. Astro makes them with crypto.randomUUID()
 * and takes whatever the cookie says as the storage key, so `..`, a slash, a
 * NUL or 250 characters reach the driver as they are: the driver treats any
 * other shape as no session (never an error, which Astro answers with 500).
 */
const sessionIdPattern = /^[A-Za-z0-9_-]{16,128}$/;

export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && sessionIdPattern.test(value);
}

/** `driver` with every bad key read as missing and never written. */
export function guardKeys(driver: Driver): Driver {
  return {
    ...driver,
    hasItem: (key, options) => (isSessionId(key) ? driver.hasItem(key, options) : false),
    getItem: (key, options) => (isSessionId(key) ? driver.getItem(key, options) : null),
    // Dropped, not refused: a refused write would be a 500 for a client that only sent a bad cookie.
    setItem: (key, value, options) => (isSessionId(key) ? driver.setItem?.(key, value, options) : undefined),
    removeItem: (key, options) => (isSessionId(key) ? driver.removeItem?.(key, options) : undefined),
  };
}
