import type { ReadResult, StoredEvent, SubscribeOptions, Subscription } from './types.js';

/** What a backend gives the fan-out: storage reads, and a feed of new events per topic. */
export interface FanoutSource {
  read(topic: string, after: string): Promise<ReadResult>;
  /** Orders two ids of the same topic. */
  compare(a: string, b: string): number;
  /** Starts feeding the topic's new events to `push`; resolves once the feed's starting point is fixed. */
  watch(topic: string, push: (events: StoredEvent[]) => void): Promise<() => void>;
}

/** One subscription: its state and its close() in one object (a stream holds it for its whole life). */
class Subscriber implements Subscription {
  /** The id of the last event delivered to it. */
  cursor: string | undefined = undefined;
  /** While its backlog is being read, live events wait here. */
  buffer: StoredEvent[] | undefined = [];
  closed = false;

  constructor(
    readonly fanout: Fanout,
    readonly name: string,
    readonly topic: Topic,
    readonly options: SubscribeOptions,
  ) {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fanout.leave(this);
  }
}

interface Topic {
  subscribers: Set<Subscriber>;
  ready: Promise<() => void>;
}

/**
 * One process's subscriptions. Each topic is watched once, however many
 * streams follow it. A new subscriber first gets its backlog from storage
 * while live events wait in its buffer; the watch is in place before the
 * backlog is read, so no event falls between the two, and the cursor drops
 * the ones both saw: every event is delivered once, in order.
 */
export class Fanout {
  readonly #topics = new Map<string, Topic>();

  constructor(private readonly source: FanoutSource) {}

  stats(): { topics: number; subscriptions: number } {
    let subscriptions = 0;
    for (const topic of this.#topics.values()) subscriptions += topic.subscribers.size;
    return { topics: this.#topics.size, subscriptions };
  }

  /** Stops watching every topic (the log is being closed); open subscriptions get nothing more. */
  close(): void {
    for (const topic of this.#topics.values()) {
      for (const subscriber of topic.subscribers) subscriber.closed = true;
      void topic.ready.then((stop) => stop(), () => undefined);
    }
    this.#topics.clear();
  }

  subscribe(name: string, options: SubscribeOptions): Subscription {
    let topic = this.#topics.get(name);
    if (!topic) {
      const created: Topic = { subscribers: new Set(), ready: this.source.watch(name, (events) => this.#push(created, events)) };
      // A watch that could not start is forgotten, so the next subscriber tries again.
      created.ready.catch(() => {
        if (this.#topics.get(name) === created) this.#topics.delete(name);
      });
      topic = created;
      this.#topics.set(name, topic);
    }
    const subscriber = new Subscriber(this, name, topic, options);
    topic.subscribers.add(subscriber);
    void this.#start(subscriber);
    return subscriber;
  }

  /** A subscriber closed: the topic is no longer watched once it has none. */
  leave(subscriber: Subscriber): void {
    const { topic, name } = subscriber;
    topic.subscribers.delete(subscriber);
    if (topic.subscribers.size === 0 && this.#topics.get(name) === topic) {
      this.#topics.delete(name);
      void topic.ready.then((stop) => stop(), () => undefined);
    }
  }

  async #start(subscriber: Subscriber): Promise<void> {
    const { options, topic, name } = subscriber;
    try {
      await topic.ready;
      const backlog = await this.source.read(name, options.after);
      if (subscriber.closed) return;
      if (backlog.reset) options.onReset?.({ requested: options.after, oldest: backlog.oldest });
      else subscriber.cursor = options.after === '0' ? undefined : options.after;
      this.#deliver(subscriber, backlog.events);
      const waiting = subscriber.buffer ?? [];
      subscriber.buffer = undefined;
      this.#deliver(subscriber, waiting);
      options.onCaughtUp?.(backlog.events.length);
    } catch (error) {
      // Storage failed (Redis down, say): no half subscription that gets live events but missed its backlog.
      subscriber.close();
      options.onError?.(error);
    }
  }

  #push(topic: Topic, events: StoredEvent[]): void {
    for (const subscriber of topic.subscribers) {
      if (subscriber.buffer) subscriber.buffer.push(...events);
      else this.#deliver(subscriber, events);
    }
  }

  #deliver(subscriber: Subscriber, events: StoredEvent[]): void {
    for (const event of events) {
      if (subscriber.closed) return;
      if (subscriber.cursor !== undefined && this.source.compare(event.id, subscriber.cursor) <= 0) continue;
      subscriber.cursor = event.id;
      try {
        subscriber.options.onEvent(event);
      } catch {
        // A failing subscriber must not stop the others.
      }
    }
  }
}
