/** A stream whose client reads nothing for this long, with data waiting, is cut; it reconnects and resumes from its last id. */
export const STALL_MS = 10_000;

/** A response or a socket, as far as waiting for it to drain goes. */
export interface DrainingSink {
  readonly writableLength: number;
  readonly destroyed: boolean;
  once(event: 'drain', listener: () => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
  destroy(): unknown;
}

/**
 * Calls `drained` once `sink` has drained. While it waits, a sink from
 * which nothing leaves for STALL_MS is destroyed (its `close` then tells
 * its owner): a client that stopped reading holds no memory for long, and
 * one that reads, however slowly, is never cut. One timer per stream that
 * waits, none for the streams that keep up. Returns what stops waiting.
 */
export function whenDrained(sink: DrainingSink, drained: () => void): () => void {
  let left = sink.writableLength;
  let since = Date.now();
  const timer = setInterval(() => {
    if (sink.destroyed) return clearInterval(timer);
    if (sink.writableLength < left) {
      left = sink.writableLength;
      since = Date.now(); // some of it left: the client reads
    } else if (Date.now() - since >= STALL_MS) {
      clearInterval(timer);
      sink.destroy();
    }
  }, 1000);
  timer.unref();
  const onDrain = () => {
    clearInterval(timer);
    drained();
  };
  sink.once('drain', onDrain);
  return () => {
    clearInterval(timer);
    sink.off('drain', onDrain);
  };
}
