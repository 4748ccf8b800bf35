/** Slices of the heartbeat period: each tick beats one slice, so 40,000 streams never all write in the same tick. */
const SLICES = 16;

interface Beat {
  timer: NodeJS.Timeout;
  slices: Set<() => void>[];
  /** The slice the next tick beats. */
  next: number;
  size: number;
}

/** Per period: one timer for every stream of this process (a stream costs a set entry, not a timer of its own). */
const beats = new Map<number, Beat>();

/**
 * Calls `beat` about every `everyMs` (never later) until the returned
 * function is called. Streams share one timer per period; each joins the
 * slice that was just beaten, so its first beat comes one period later.
 */
export function onHeartbeat(everyMs: number, beat: () => void): () => void {
  let shared = beats.get(everyMs);
  if (!shared) {
    const created: Beat = {
      slices: Array.from({ length: SLICES }, () => new Set<() => void>()),
      next: 0,
      size: 0,
      timer: setInterval(() => {
        const slice = created.slices[created.next]!;
        created.next = (created.next + 1) % SLICES;
        for (const each of slice) {
          try {
            each();
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
  const beat_ = shared;
  const slice = beat_.slices[(beat_.next + SLICES - 1) % SLICES]!;
  slice.add(beat);
  beat_.size++;
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    slice.delete(beat);
    if (--beat_.size === 0 && beats.get(everyMs) === beat_) {
      clearInterval(beat_.timer);
      beats.delete(everyMs);
    }
  };
}
