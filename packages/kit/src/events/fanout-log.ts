import { Fanout } from './fanout.js';
import { assertTopic } from './topics.js';
import type { EventLog, ReadResult, StoredEvent, SubscribeOptions, Subscription } from './types.js';

/**
 * What both backends share: every subscription goes through one Fanout per
 * process. A backend stores and reads events, orders its ids, and feeds new
 * events of a topic to `push` from the moment `watch` resolves.
 */
export abstract class FanoutLog implements EventLog {
  abstract readonly backend: 'file' | 'redis';
  readonly #fanout = new Fanout({
    read: (topic, after) => this.read(topic, after),
    compare: (a, b) => this.compare(a, b),
    watch: (topic, push) => this.watch(topic, push),
  });

  abstract publish(topic: string, data: unknown): Promise<StoredEvent>;
  abstract read(topic: string, after: string): Promise<ReadResult>;
  abstract latest(topic: string, count: number): Promise<StoredEvent[]>;
  abstract latestId(topic: string): Promise<string>;
  abstract exists(topic: string): Promise<boolean>;
  abstract prune(): Promise<number>;
  protected abstract compare(a: string, b: string): number;
  protected abstract watch(topic: string, push: (events: StoredEvent[]) => void): Promise<() => void>;

  subscribe(topic: string, options: SubscribeOptions): Subscription {
    assertTopic(topic);
    return this.#fanout.subscribe(topic, options);
  }

  stats(): { topics: number; subscriptions: number } {
    return this.#fanout.stats();
  }

  /** Stops every watch; a backend with connections closes them too. */
  async close(): Promise<void> {
    this.#fanout.close();
  }
}
