/**
 * A wait that something can cut short: `wait(ms)` resolves after `ms`, or at
 * the next `wake()`, or when `signal` aborts, whichever comes first, and
 * leaves no timer or listener behind.
 */
export interface Waker {
  /** Resolves false once the signal has aborted, true otherwise. */
  wait(ms: number): Promise<boolean>;
  wake(): void;
}

export function createWaker(signal: AbortSignal): Waker {
  let current: (() => void) | undefined;
  return {
    wait(ms) {
      if (signal.aborted) return Promise.resolve(false);
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          current = undefined;
          resolve(!signal.aborted);
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener('abort', done, { once: true });
        current = done;
      });
    },
    wake() {
      current?.();
    },
  };
}
