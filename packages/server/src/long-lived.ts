import type { ServerResponse } from 'node:http';

/**
 * Responses that stay open until the client leaves, such as event streams.
 * A draining server cannot wait for them: it asks each to end itself, with a
 * hint that makes the client reconnect, to another worker.
 */
export class LongLivedResponses {
  readonly #ends = new Map<ServerResponse, () => void>();
  #closing = false;

  /**
   * Registers a response with the function that ends it politely; forgotten
   * when it closes. Once the server drains, a new one is ended at once.
   */
  add(res: ServerResponse, end: () => void): void {
    if (this.#closing) return end();
    this.#ends.set(res, end);
    res.once('close', () => this.#ends.delete(res));
  }

  get size(): number {
    return this.#ends.size;
  }

  /** Ends every registered response, and every one added from now on; returns how many there were. */
  endAll(): number {
    this.#closing = true;
    const count = this.#ends.size;
    for (const [res, end] of [...this.#ends]) {
      this.#ends.delete(res);
      try {
        end();
      } catch {
        res.destroy();
      }
    }
    return count;
  }
}
