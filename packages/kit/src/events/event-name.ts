/** What an SSE `event:` name may be: anything else could end the line and add fields of its own (`x\ndata: …`). */
const eventNamePattern = /^[A-Za-z0-9_.-]{1,64}$/;

/** The name when it is safe to write on an `event:` line; undefined (a plain message) otherwise. */
export function safeEventName(name: unknown): string | undefined {
  return typeof name === 'string' && eventNamePattern.test(name) ? name : undefined;
}
