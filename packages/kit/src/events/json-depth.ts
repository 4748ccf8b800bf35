import { errors } from '../core/index.cjs';

/**
 * How deep a JSON value may nest. Deeper data is refused up front: JSON.stringify
 * and the readers' JSON.parse recurse, so a 30,000-deep value would overflow the
 * stack there (a 503, or a stream that cannot read its own log) instead of
 * being a plain 400 at the door.
 */
export const MAX_JSON_DEPTH = 64;

/** The nesting depth of JSON text, counted without parsing (so without recursion); strings are skipped. */
export function jsonTextDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/** The nesting depth of a value, walked with a stack of its own; stops counting past `limit`. */
export function valueDepth(value: unknown, limit = MAX_JSON_DEPTH): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [item, level] = stack.pop()!;
    if (item === null || typeof item !== 'object') continue;
    const depth = level + 1;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(item) ? item : Object.values(item)) stack.push([child, depth]);
  }
  return deepest;
}

/** Throws KIT_EVENT_TOO_DEEP for data the log would fail to store or read back. */
export function assertStorable(data: unknown): void {
  if (valueDepth(data) > MAX_JSON_DEPTH) throw errors.eventTooDeep(MAX_JSON_DEPTH);
}
