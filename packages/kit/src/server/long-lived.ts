import type { ServerResponse } from 'node:http';

/**
 * Responses that stay open until the client leaves, such as event streams.
 * A draining server cannot wait for them: it asks each to end itself, with a
 * hint that makes the client reconnect, to another worker.
 */
export class LongLivedResponses {
  readonly #ends = new Map<object, { end: () => void; destroy: () => void }>();
  #closing = false;

  /**
   * Registers a response with the function that ends it politely; forgotten
   * when it closes. Once the server drains, a new one is ended at once.
   */
  add(res: ServerResponse, end: () => void): void {
    const forget = this.register(end, () => res.destroy());
    res.on('close', forget);
  }

  /**
   * Registers a stream that is not a node response (a web ReadableStream an
   * Astro endpoint returns): `end` ends it politely, `destroy` when that
   * throws. Returns the function that forgets it, to call when it closes.
   */
  register(end: () => void, destroy: () => void = () => undefined): () => void {
    if (this.#closing) {
      end();
      return () => undefined;
    }
    const key = {};
    this.#ends.set(key, { end, destroy });
    return () => void this.#ends.delete(key);
  }

  get size(): number {
    return this.#ends.size;
  }

  /** Whether the server drains: a stream asked for now is ended at once. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Ends every registered response, and every one added from now on; returns how many there were. */
  endAll(): number {
    this.#closing = true;
    const count = this.#ends.size;
    for (const [key, { end, destroy }] of [...this.#ends]) {
      this.#ends.delete(key);
      try {
        end();
      } catch {
        destroy();
      }
    }
    return count;
  }
}
