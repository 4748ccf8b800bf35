import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { writeFileAtomic } from '../core/index.cjs';
import { entryToEvent, eventsKey } from './redis-entries.js';
import { taskQueueTopic } from './tasks.js';
import type { EventLog, StoredEvent, Subscription } from './types.js';

/**
 * How the task-runner takes tasks off the `tasks` topic, one at a time:
 *
 * - `checkpoint` (the file backend, one host): it follows the topic and
 *   records in a file how far it got; a restart goes on from there.
 * - `consumer-group` (Redis, any number of hosts): it reads the same stream
 *   the web workers XADD to through a consumer group, so each task is
 *   delivered to one runner, and acknowledged (XACK) once handled. A task
 *   whose runner died or froze mid-task stays pending; once nobody has
 *   touched it for `claimIdleMs`, the next runner claims it (XAUTOCLAIM) and
 *   the message says so (`reclaimed`), for the runner to report.
 */
export interface TaskQueue {
  readonly kind: 'checkpoint' | 'consumer-group';
  /** Gets ready to read (the checkpoint read, the group made) and says from where, for the log: `after queue id 1234`. */
  start(): Promise<string>;
  /** The next message, or undefined after about `waitMs` without one. Throws when the queue cannot be read (the caller waits and asks again). */
  next(waitMs: number, signal: AbortSignal): Promise<QueuedMessage | undefined>;
  /** The message is handled (run or set aside): it is never delivered again. */
  done(id: string): Promise<void>;
  /** Keeps a message in progress claimed: a runner calls it at each step, so only a dead or frozen one's task goes idle. */
  touch(id: string): Promise<void>;
  close(): Promise<void>;
}

export interface QueuedMessage {
  event: StoredEvent;
  /** Delivered before to a runner that did not finish it (it died, froze, or was stopped). */
  reclaimed?: Reclaim;
}

export interface Reclaim {
  /** The consumer that had it (e.g. `host-a:task-runner`); on the file backend, `checkpoint`. */
  from: string;
  /** How many times it has been delivered, this time included. */
  deliveries: number;
}

export interface TaskQueueOptions {
  events: EventLog;
  /** Redis (consumer group) when given; otherwise the checkpoint file. */
  redisUrl?: string | undefined;
  /** The consumer's name in the group: stable per host and agent, e.g. `host-a:task-runner`. */
  consumer: string;
  /** The group's name: the agent's. */
  group: string;
  /** Where the file backend keeps its checkpoint. */
  checkpointFile: string;
  claimIdleMs: number;
  log(line: string): void;
}

export function openTaskQueue(options: TaskQueueOptions): TaskQueue {
  return options.redisUrl ? new ConsumerGroupQueue(options.redisUrl, options) : new CheckpointQueue(options);
}

/** The file backend's queue: a subscription from the checkpoint, which moves past each message once it is handled. */
class CheckpointQueue implements TaskQueue {
  readonly kind = 'checkpoint' as const;
  #after: string | undefined;
  #subscription: Subscription | undefined;
  #failure: unknown;
  readonly #buffer: StoredEvent[] = [];
  #wake: (() => void) | undefined;

  constructor(private readonly options: TaskQueueOptions) {}

  async start(): Promise<string> {
    this.#after ??= await readCheckpoint(this.options.checkpointFile);
    return `after queue id ${this.#after}`;
  }

  async next(waitMs: number, signal: AbortSignal): Promise<QueuedMessage | undefined> {
    this.#after ??= await readCheckpoint(this.options.checkpointFile);
    if (this.#failure) {
      // Read again from the checkpoint at the next call: nothing after it is skipped.
      const failure = this.#failure;
      this.#failure = undefined;
      this.#subscription?.close();
      this.#subscription = undefined;
      this.#buffer.length = 0;
      throw failure;
    }
    this.#subscription ??= this.#subscribe(this.#after);
    if (this.#buffer.length === 0) await this.#wait(waitMs, signal);
    const event = this.#buffer.shift();
    return event && { event };
  }

  async done(id: string): Promise<void> {
    this.#after = id;
    await writeFileAtomic(this.options.checkpointFile, JSON.stringify({ after: id }));
  }

  async touch(): Promise<void> {
    // One runner on one host: nobody else could claim it.
  }

  async close(): Promise<void> {
    this.#subscription?.close();
  }

  #subscribe(after: string): Subscription {
    return this.options.events.subscribe(taskQueueTopic, {
      after,
      onEvent: (event) => {
        this.#buffer.push(event);
        this.#wake?.();
      },
      onReset: ({ oldest }) => this.options.log(`the queue no longer holds task ${after}: going on from ${oldest ?? 'the start'}`),
      onError: (error) => {
        this.#failure = error;
        this.#wake?.();
      },
    });
  }

  #wait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done);
      this.#wake = done;
    });
  }
}

async function readCheckpoint(file: string): Promise<string> {
  try {
    const saved = JSON.parse(await readFile(file, 'utf8')) as { after?: unknown };
    return typeof saved.after === 'string' && saved.after !== '' ? saved.after : '0';
  } catch {
    return '0';
  }
}

type Entry = [id: string, fields: string[] | null];

/** Redis's queue: the `tasks` stream (kit:events:tasks, as the event log writes it) read through a consumer group. */
class ConsumerGroupQueue implements TaskQueue {
  readonly kind = 'consumer-group' as const;
  readonly #redis: Redis;
  /** XREADGROUP BLOCK holds its connection: it gets one of its own. */
  readonly #reader: Redis;
  readonly #key = eventsKey(taskQueueTopic);
  #ready = false;
  /** Where in its own pending list this consumer is: what its predecessor on this host left unfinished comes first. */
  #ownCursor: string | undefined = '0';
  #lastClaimAt = 0;

  constructor(url: string, private readonly options: TaskQueueOptions) {
    this.#redis = new Redis(url, { maxRetriesPerRequest: 2, connectTimeout: 5000 });
    this.#reader = new Redis(url, { maxRetriesPerRequest: 2, connectTimeout: 5000 });
    // Failures surface on the commands that fail; without a listener ioredis prints each reconnect attempt.
    this.#redis.on('error', () => undefined);
    this.#reader.on('error', () => undefined);
  }

  async start(): Promise<string> {
    await this.#ensureGroup();
    return `on ${this.#key} as consumer ${this.options.consumer} of group ${this.options.group}`;
  }

  async next(waitMs: number, signal: AbortSignal): Promise<QueuedMessage | undefined> {
    try {
      return await this.#next(waitMs, signal);
    } catch (error) {
      // The stream was removed (an empty topic is pruned) and its group with it: made again at the next call.
      if (/NOGROUP/.test((error as Error).message)) this.#ready = false;
      throw error;
    }
  }

  async #next(waitMs: number, signal: AbortSignal): Promise<QueuedMessage | undefined> {
    const { group, consumer } = this.options;
    await this.#ensureGroup();
    // 1. What this consumer had when it stopped (its process died or was stopped mid-task on this host).
    while (this.#ownCursor !== undefined) {
      const entry = await this.#readGroup(this.#redis, this.#ownCursor);
      if (!entry) {
        this.#ownCursor = undefined;
        break;
      }
      this.#ownCursor = entry[0];
      const event = await this.#eventOf(entry);
      if (event) return { event, reclaimed: { from: consumer, deliveries: await this.#deliveries(entry[0]) } };
    }
    // 2. What another runner left idle for longer than a task's step could take: it died or froze. One at a time,
    // so that nothing claimed waits here idle long enough to look abandoned itself.
    if (Date.now() - this.#lastClaimAt >= this.options.claimIdleMs / 2) {
      const [pending] = (await this.#redis.xpending(this.#key, group, 'IDLE', this.options.claimIdleMs, '-', '+', 1)) as [string, string, number, number][];
      const [, entries] = (await this.#redis.xautoclaim(this.#key, group, consumer, this.options.claimIdleMs, '0-0', 'COUNT', 1)) as [string, Entry[], string[]?];
      const entry = entries.find((candidate) => candidate !== null);
      if (entry) {
        const event = await this.#eventOf(entry);
        const from = pending?.[0] === entry[0] ? pending[1] : 'another runner';
        // Look again at once: there may be more.
        if (event) return { event, reclaimed: { from, deliveries: (pending?.[0] === entry[0] ? pending[3] : 1) + 1 } };
      } else {
        this.#lastClaimAt = Date.now();
      }
    }
    if (signal.aborted) return undefined;
    // 3. A new task.
    const entry = await this.#readGroup(this.#reader, '>', Math.max(1, Math.min(waitMs, 1000)));
    if (!entry) return undefined;
    const event = await this.#eventOf(entry);
    return event && { event };
  }

  async #ensureGroup(): Promise<void> {
    if (this.#ready) return;
    // From the start of what is kept: a task handled before the group existed ends as `skipped` (its topic shows an end).
    await this.#redis.xgroup('CREATE', this.#key, this.options.group, '0', 'MKSTREAM').catch((error: Error) => {
      if (!/BUSYGROUP/.test(error.message)) throw error;
    });
    this.#ready = true;
  }

  async done(id: string): Promise<void> {
    await this.#redis.xack(this.#key, this.options.group, id);
  }

  async touch(id: string): Promise<void> {
    // XCLAIM by its own consumer with no minimum idle time: resets the idle time, leaves the delivery count.
    await this.#redis.xclaim(this.#key, this.options.group, this.options.consumer, 0, id, 'JUSTID');
  }

  async close(): Promise<void> {
    this.#reader.disconnect();
    await this.#redis.quit().catch(() => undefined);
  }

  async #readGroup(client: Redis, from: string, blockMs?: number): Promise<Entry | undefined> {
    const { group, consumer } = this.options;
    const block = blockMs === undefined ? [] : ['BLOCK', blockMs];
    const reply = (await client.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', 1, ...block, 'STREAMS', this.#key, from)) as [string, Entry[]][] | null;
    return reply?.[0]?.[1]?.[0];
  }

  /** The entry as an event; an entry trimmed away meanwhile (no fields) is acknowledged and skipped. */
  async #eventOf([id, fields]: Entry): Promise<StoredEvent | undefined> {
    if (!fields) {
      await this.done(id);
      return undefined;
    }
    return entryToEvent(taskQueueTopic, id, fields);
  }

  async #deliveries(id: string): Promise<number> {
    const [entry] = (await this.#redis.xpending(this.#key, this.options.group, id, id, 1)) as [string, string, number, number][];
    return entry?.[3] ?? 1;
  }
}
