/** Slices of the heartbeat period: each tick beats one slice, so 40,000 streams never all write in the same tick. */
const SLICES = 16;

/** What gets a heartbeat: a stream, with its behaviour on its prototype (no closure a stream). */
export interface Beating {
  beat(): void;
}

interface Beat {
  timer: NodeJS.Timeout;
  slices: Set<Beating>[];
  /** The slice the next tick beats. */
  next: number;
  size: number;
}

/** Per period: one timer for every stream of this process (a stream costs a set entry, not a timer of its own). */
const beats = new Map<number, Beat>();

/**
 * Calls `member.beat()` about every `everyMs` (never later) until
 * leaveHeartbeat. Streams share one timer per period; each joins the slice
 * that was just beaten, so its first beat comes one period later.
 */
export function joinHeartbeat(everyMs: number, member: Beating): void {
  let shared = beats.get(everyMs);
  if (!shared) {
    const created: Beat = {
      slices: Array.from({ length: SLICES }, () => new Set<Beating>()),
      next: 0,
      size: 0,
      timer: setInterval(() => {
        const slice = created.slices[created.next]!;
        created.next = (created.next + 1) % SLICES;
        for (const each of slice) {
          try {
            each.beat();
          } catch {
            // One failing stream must not stop the others' heartbeats.
          }
        }
      }, Math.max(1, Math.floor(everyMs / SLICES))),
    };
    created.timer.unref();
    beats.set(everyMs, created);
    shared = created;
  }
  const slice = shared.slices[(shared.next + SLICES - 1) % SLICES]!;
  if (shared.slices.some((each) => each.has(member))) return;
  slice.add(member);
  shared.size++;
}

/** Stops `member`'s heartbeat; nothing when it has none. */
export function leaveHeartbeat(everyMs: number, member: Beating): void {
  const shared = beats.get(everyMs);
  // Not knowing its slice costs 16 set lookups when a stream ends, instead of a closure for every stream's life.
  if (!shared?.slices.some((slice) => slice.delete(member))) return;
  if (--shared.size === 0) {
    clearInterval(shared.timer);
    beats.delete(everyMs);
  }
}

/** Calls `beat` about every `everyMs` until the returned function is called (joinHeartbeat with a function). */
export function onHeartbeat(everyMs: number, beat: () => void): () => void {
  const member: Beating = { beat };
  joinHeartbeat(everyMs, member);
  return () => leaveHeartbeat(everyMs, member);
}
