/** One event as stored: ids grow within a topic, so "everything after id X" is well defined. */
export interface StoredEvent {
  id: string;
  topic: string;
  /** When it was published (ISO). */
  at: string;
  data: unknown;
}

export interface SubscribeOptions {
  /** Deliver the events after this id first (a reconnecting client's Last-Event-ID; "0" for everything kept), then new ones. */
  after: string;
  onEvent(event: StoredEvent): void;
  /** The id asked for is older than what is kept, or unknown: some events are gone. Delivery restarts at the oldest kept. */
  onReset?(info: { requested: string; oldest: string | undefined }): void;
  /** The backlog has been delivered; what follows is live. */
  onCaughtUp?(replayed: number): void;
  /** The backlog could not be read (storage down): the subscription is closed, nothing more will come. */
  onError?(error: unknown): void;
}

export interface Subscription {
  close(): void;
}

export interface ReadResult {
  events: StoredEvent[];
  /** Events after the requested id were dropped by retention (or the id is unknown). */
  reset: boolean;
  oldest: string | undefined;
}

/**
 * The log every process of the kit shares: web workers, agents and
 * commands publish to it and read from it, so an event published on one
 * worker reaches streams on all of them.
 */
export interface EventLog {
  readonly backend: 'file' | 'redis';
  publish(topic: string, data: unknown): Promise<StoredEvent>;
  /** The events after `after` (all kept when "0"), oldest first. */
  read(topic: string, after: string): Promise<ReadResult>;
  /** The newest `count` events, oldest first. */
  latest(topic: string, count: number): Promise<StoredEvent[]>;
  /** The id of the newest event, "0" when the topic is empty. */
  latestId(topic: string): Promise<string>;
  exists(topic: string): Promise<boolean>;
  subscribe(topic: string, options: SubscribeOptions): Subscription;
  /** Drops events and whole topics past retention; returns how many topics it removed. */
  prune(): Promise<number>;
  /** Open subscriptions and the topics they watch, for /api/stats and the leak tests. */
  stats(): { topics: number; subscriptions: number };
  close(): Promise<void>;
}

export interface Retention {
  count: number;
  maxAgeMs: number;
}
