import type { ServerResponse } from 'node:http';

/** A response that stays open: how to end it politely, and how to cut it when that throws. */
export interface LongLived {
  endStream(): void;
  destroyStream(): void;
}

/**
 * Responses that stay open until the client leaves, such as event streams.
 * A draining server cannot wait for them: it asks each to end itself, with a
 * hint that makes the client reconnect, to another worker.
 */
export class LongLivedResponses {
  readonly #members = new Set<LongLived>();
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
    const member: LongLived = { endStream: end, destroyStream: destroy };
    return this.join(member) ? () => this.leave(member) : () => undefined;
  }

  /**
   * Registers a stream that is its own member (its methods on its
   * prototype: no closures for each of 20,000 streams); leave() when it
   * closes. False when the server drains: it was ended at once.
   */
  join(member: LongLived): boolean {
    if (this.#closing) {
      member.endStream();
      return false;
    }
    this.#members.add(member);
    return true;
  }

  leave(member: LongLived): void {
    this.#members.delete(member);
  }

  get size(): number {
    return this.#members.size;
  }

  /** Whether the server drains: a stream asked for now is ended at once. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Ends every registered response, and every one added from now on; returns how many there were. */
  endAll(): number {
    this.#closing = true;
    const count = this.#members.size;
    for (const member of [...this.#members]) {
      this.#members.delete(member);
      try {
        member.endStream();
      } catch {
        member.destroyStream();
      }
    }
    return count;
  }
}
