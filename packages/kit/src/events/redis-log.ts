import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { FanoutLog } from './fanout-log.js';
import { entryToEvent, eventsKey } from './redis-entries.js';
import { assertStorable } from './json-depth.js';
import { assertTopic } from './topics.js';
import type { ReadResult, Retention, StoredEvent } from './types.js';

/**
 * The event log on Redis Streams, for a kit spread over several hosts: one
 * stream per topic (XADD with approximate MAXLEN and MINID trimming), ids
 * from Redis (`<ms>-<seq>`), and one blocking XREAD per process over every
 * topic it follows, plus a private wake-up stream of its own: a topic
 * followed while the XREAD blocks is announced there, so it is read at once
 * rather than at the next round.
 */
export class RedisEventLog extends FanoutLog {
  readonly backend = 'redis' as const;
  readonly #redis: Redis;
  /** XREAD BLOCK holds its connection: it gets one of its own. */
  readonly #reader: Redis;
  /** Topic → [last id read, push]. */
  readonly #followed = new Map<string, { last: string; push: (events: StoredEvent[]) => void }>();
  #readerRunning = false;
  #closed = false;
  /** This process's wake-up stream, and the last id read from it. */
  readonly #wakeKey: string;
  #wakeLast = '0-0';

  constructor(
    url: string,
    private readonly retention: Retention,
    private readonly prefix = 'kit:',
    /** How long one XREAD blocks (ms): a round ends on new events or a wake-up anyway, so this only bounds idle rounds. */
    private readonly blockMs = 10_000,
  ) {
    super();
    this.#redis = new Redis(url, { maxRetriesPerRequest: 2, connectTimeout: 5000 });
    this.#reader = new Redis(url, { maxRetriesPerRequest: null, connectTimeout: 5000 });
    // Errors surface on the commands that fail; without a listener ioredis would print each reconnect attempt.
    this.#redis.on('error', () => undefined);
    this.#reader.on('error', () => undefined);
    this.#wakeKey = `${prefix}wake:${randomBytes(8).toString('hex')}`;
  }

  protected compare(a: string, b: string): number {
    return compareIds(a, b);
  }

  #key(topic: string): string {
    return eventsKey(topic, this.prefix);
  }

  async publish(topic: string, data: unknown): Promise<StoredEvent> {
    assertTopic(topic);
    assertStorable(data);
    const at = new Date().toISOString();
    const key = this.#key(topic);
    const results = await this.#redis
      .multi()
      .xadd(key, 'MAXLEN', '~', String(this.retention.count), '*', 'at', at, 'data', JSON.stringify(data))
      .xtrim(key, 'MINID', '~', String(Date.now() - this.retention.maxAgeMs))
      .sadd(`${this.prefix}topics`, topic)
      .exec();
    const [error, id] = results?.[0] ?? [new Error('no reply from Redis')];
    if (error) throw error;
    return { id: String(id), topic, at, data };
  }

  async read(topic: string, after: string): Promise<ReadResult> {
    assertTopic(topic);
    const key = this.#key(topic);
    const info = await this.#info(key);
    const oldest = info?.first;
    let start = '-';
    let reset = false;
    if (after !== '0') {
      // Missed when trimming removed entries after `after` (it is older than the oldest kept, and the
      // stream was trimmed), or when the id is not one this stream gave out. Either way the client gets
      // everything kept, which is all after `after`.
      const valid = /^\d+(-\d+)?$/.test(after);
      reset = !valid || !info || compareIds(after, info.last) > 0 || (info.first !== undefined && info.trimmed && compareIds(after, info.first) < 0);
      if (!reset) start = `(${after}`;
    }
    const entries = info ? await this.#redis.xrange(key, start, '+') : [];
    return { events: entries.map((entry) => toEvent(topic, entry)), reset, oldest };
  }

  async latest(topic: string, count: number): Promise<StoredEvent[]> {
    assertTopic(topic);
    const entries = await this.#redis.xrevrange(this.#key(topic), '+', '-', 'COUNT', count);
    return entries.reverse().map((entry) => toEvent(topic, entry));
  }

  async latestId(topic: string): Promise<string> {
    assertTopic(topic);
    const [entry] = await this.#redis.xrevrange(this.#key(topic), '+', '-', 'COUNT', 1);
    return entry ? entry[0] : '0';
  }

  async exists(topic: string): Promise<boolean> {
    assertTopic(topic);
    return (await this.#redis.exists(this.#key(topic))) === 1;
  }

  async prune(): Promise<number> {
    let removed = 0;
    for (const topic of await this.#redis.smembers(`${this.prefix}topics`)) {
      const key = this.#key(topic);
      await this.#redis.xtrim(key, 'MINID', String(Date.now() - this.retention.maxAgeMs));
      if ((await this.#redis.xlen(key)) === 0) {
        await this.#redis.multi().del(key).srem(`${this.prefix}topics`, topic).exec();
        removed++;
      }
    }
    return removed;
  }

  override async close(): Promise<void> {
    this.#closed = true;
    await super.close();
    this.#reader.disconnect();
    await this.#redis.quit().catch(() => undefined);
  }

  async #info(key: string): Promise<{ first: string | undefined; last: string; trimmed: boolean } | undefined> {
    let raw: unknown[];
    try {
      raw = (await this.#redis.call('XINFO', 'STREAM', key)) as unknown[];
    } catch (error) {
      if (/no such key/i.test((error as Error).message)) return undefined;
      throw error;
    }
    const fields = new Map<string, unknown>();
    for (let i = 0; i + 1 < raw.length; i += 2) fields.set(String(raw[i]), raw[i + 1]);
    const first = fields.get('first-entry') as [string, string[]] | null | undefined;
    const added = Number(fields.get('entries-added'));
    return {
      first: first?.[0],
      last: String(fields.get('last-generated-id') ?? '0-0'),
      // Redis before 7 has no entries-added: assume trimmed, so an old id is reported as a reset.
      trimmed: !Number.isFinite(added) || added > Number(fields.get('length')),
    };
  }

  protected async watch(topic: string, push: (events: StoredEvent[]) => void): Promise<() => void> {
    const last = (await this.#info(this.#key(topic)))?.last ?? '0-0';
    const entry = { last, push };
    this.#followed.set(topic, entry);
    if (this.#readerRunning) {
      // An XREAD may be blocking without this topic: an entry on the wake-up stream, whose last id that XREAD
      // holds, ends it whether it reached Redis before or after this. Expires once nobody follows anything new for a while.
      await this.#redis.multi().xadd(this.#wakeKey, 'MAXLEN', '1', '*', 'topic', topic).pexpire(this.#wakeKey, 3_600_000).exec();
    }
    void this.#readLoop();
    return () => {
      // Only its own: a newer watch of the same topic may have taken the place meanwhile.
      if (this.#followed.get(topic) === entry) this.#followed.delete(topic);
    };
  }

  /** One XREAD for every followed topic at once, from each one's last id, and the wake-up stream from its own. */
  async #readLoop(): Promise<void> {
    if (this.#readerRunning) return;
    this.#readerRunning = true;
    try {
      while (!this.#closed && this.#followed.size > 0) {
        const topics = [...this.#followed.keys()];
        let reply: [string, [string, string[]][]][] | null;
        try {
          reply = (await this.#reader.xread(
            'COUNT',
            1000,
            'BLOCK',
            this.blockMs,
            'STREAMS',
            ...topics.map((topic) => this.#key(topic)),
            this.#wakeKey,
            ...topics.map((topic) => this.#followed.get(topic)!.last),
            this.#wakeLast,
          )) as [string, [string, string[]][]][] | null;
        } catch {
          if (this.#closed) return;
          await new Promise((resolve) => setTimeout(resolve, 500)); // Redis is away: ioredis reconnects meanwhile.
          continue;
        }
        for (const [key, entries] of reply ?? []) {
          if (key === this.#wakeKey) {
            if (entries.length > 0) this.#wakeLast = entries.at(-1)![0];
            continue;
          }
          const topic = key.slice(`${this.prefix}events:`.length);
          const follower = this.#followed.get(topic);
          if (!follower || entries.length === 0) continue;
          follower.last = entries.at(-1)![0];
          follower.push(entries.map((entry) => toEvent(topic, entry)));
        }
      }
    } finally {
      this.#readerRunning = false;
      // A topic followed while the loop was on its way out would otherwise never be read.
      if (!this.#closed && this.#followed.size > 0) void this.#readLoop();
    }
  }
}

/** Orders Redis stream ids (`<ms>-<seq>`; a bare `<ms>` counts as `<ms>-0`). */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  // Called per stream per event: plain numbers while they are exact (any real ms, any real seq), BigInt past that.
  if (a.length < 30 && b.length < 30) {
    const [aMs = '0', aSeq = '0'] = a.split('-');
    const [bMs = '0', bSeq = '0'] = b.split('-');
    if (aMs.length < 16 && bMs.length < 16 && aSeq.length < 16 && bSeq.length < 16) return Math.sign(Number(aMs) - Number(bMs) || Number(aSeq) - Number(bSeq));
  }
  const [aMs = '0', aSeq = '0'] = a.split('-');
  const [bMs = '0', bSeq = '0'] = b.split('-');
  const ms = BigInt(aMs) - BigInt(bMs);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(aSeq) - BigInt(bSeq);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

function toEvent(topic: string, [id, fields]: [string, string[]]): StoredEvent {
  return entryToEvent(topic, id, fields);
}
