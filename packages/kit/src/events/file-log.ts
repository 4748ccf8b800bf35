import { appendFile, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { errors, writeFileAtomic } from '../core/index.cjs';
import { FanoutLog } from './fanout-log.js';
import { assertStorable } from './json-depth.js';
import { assertTopic, isTopic } from './topics.js';
import type { ReadResult, Retention, StoredEvent } from './types.js';
import { WakeBus } from './wake.js';

export interface FileEventLogOptions {
  /**
   * How often each followed topic is read whatever happens (ms): a safety
   * net for a publisher that died between its append and its wake-up call,
   * never what delivers an event otherwise (see WakeBus). Default 30 s.
   */
  safetyMs?: number;
}

/**
 * The embedded event log: one folder per topic under LOGS_DIR/run/events,
 * holding append-only segment files of one JSON line per event, named after
 * their first id. Publishers in any process take the topic's lock, append
 * one line with the next id, let go, and wake the readers of this host over
 * their Unix sockets (WakeBus); readers then read their files to the end.
 */
export class FileEventLog extends FanoutLog {
  readonly backend = 'file' as const;
  /** Events per segment: retention drops whole segments, so keep them a fraction of it. */
  readonly #segmentEvents: number;
  readonly #safetyMs: number;
  /** Each followed topic's reader, woken by name. */
  readonly #readers = new Map<string, (detail: string | undefined) => void>();
  readonly #wake: WakeBus;
  /** Reads that found events although no wake-up came: a publisher died between its append and its call (see safetyMs). */
  #lateReads = 0;

  constructor(
    private readonly root: string,
    private readonly retention: Retention,
    options: FileEventLogOptions = {},
  ) {
    super();
    this.#segmentEvents = Math.max(50, Math.min(10_000, Math.round(retention.count / 10)));
    this.#safetyMs = options.safetyMs ?? 30_000;
    this.#wake = new WakeBus(root, (topic, detail) => this.#readers.get(topic)?.(detail));
  }

  /** How many reads the safety timer made that found events: 0 unless a publisher died mid-publish. */
  get lateReads(): number {
    return this.#lateReads;
  }

  override async close(): Promise<void> {
    await super.close();
    await this.#wake.close();
  }

  protected compare(a: string, b: string): number {
    return Number(a) - Number(b);
  }

  async publish(topic: string, data: unknown): Promise<StoredEvent> {
    assertTopic(topic);
    assertStorable(data);
    const dir = path.join(this.root, topic);
    const release = await lockTopic(dir, true);
    let event: StoredEvent;
    let line: string;
    try {
      const state = await readState(dir);
      let newest = (await listSegments(dir)).at(-1);
      let tail = await topicTail(dir, newest);
      const problem = damageOf(newest, tail, state.high);
      if (problem) {
        // Set aside, never reused: the next id goes above the highest one ever given, and readers from before get a reset.
        const highest = Math.max(state.high, tail.lastId, newest ? await highestIdIn(path.join(dir, newest.file)) : 0);
        if (newest) await setAside(dir, newest.file, problem);
        state.lost = [...state.lost, [newest?.first ?? 1, highest] as [number, number]].slice(-100);
        state.high = highest;
        newest = undefined;
        tail = { lastId: highest, ended: true, garbage: false };
      }
      const id = Math.max(tail.lastId, state.high) + 1;
      const file = !newest || id - newest.first >= this.#segmentEvents ? segmentName(id) : newest.file;
      event = { id: String(id), topic, at: new Date().toISOString(), data };
      // A line cut short (a crash, a full disk) is ended first, so this one is not glued to it and lost.
      const torn = file === newest?.file && !tail.ended;
      // One write of one whole line: readers either see all of it or none.
      line = JSON.stringify({ id, at: event.at, data });
      await appendFile(path.join(dir, file), `${torn ? '\n' : ''}${line}\n`);
      // After the append: a crash in between leaves the mark behind the log (harmless), never ahead of it (a false alarm).
      state.high = id;
      await writeState(dir, state);
      if (file !== newest?.file) await this.#dropOldSegments(dir, id);
    } finally {
      await release().catch(() => undefined);
    }
    // After the append, never before: a reader that registers later starts past this event (see WakeBus).
    // The line rides along: a reader that has every event before it takes it as is, without reading the file.
    await this.#wake.notify(topic, `${event.id} ${line}`);
    return event;
  }

  async read(topic: string, after: string): Promise<ReadResult> {
    assertTopic(topic);
    const dir = path.join(this.root, topic);
    const segments = await listSegments(dir);
    const oldest = segments[0]?.first;
    const lastId = await lastIdOf(dir, segments.at(-1));
    let from = after === '0' ? 0 : /^\d+$/.test(after) ? Number(after) : Number.NaN;
    // An id older than what is kept, from the future, or not an id at all: the client has missed events.
    const reset = after !== '0' && (Number.isNaN(from) || (oldest !== undefined && from + 1 < oldest) || from > lastId);
    if (reset) from = 0;
    // Events lost to a damaged segment that was set aside: a reader before them is told, then gets what is left.
    const damaged = !reset && after !== '0' && (await readState(dir)).lost.some(([, last]) => from < last);
    const events: StoredEvent[] = [];
    for (let i = 0; i < segments.length; i++) {
      const next = segments[i + 1];
      if (next && next.first - 1 <= from) continue;
      for (const event of await readSegment(topic, path.join(dir, segments[i]!.file))) if (Number(event.id) > from) events.push(event);
    }
    return { events, reset: reset || damaged, oldest: oldest === undefined ? undefined : String(oldest) };
  }

  async latest(topic: string, count: number): Promise<StoredEvent[]> {
    assertTopic(topic);
    const dir = path.join(this.root, topic);
    const segments = await listSegments(dir);
    const events: StoredEvent[] = [];
    for (let i = segments.length - 1; i >= 0 && events.length < count; i--) {
      events.unshift(...(await readSegment(topic, path.join(dir, segments[i]!.file))));
    }
    return events.slice(-count);
  }

  async latestId(topic: string): Promise<string> {
    assertTopic(topic);
    const dir = path.join(this.root, topic);
    return String(await lastIdOf(dir, (await listSegments(dir)).at(-1)));
  }

  async exists(topic: string): Promise<boolean> {
    assertTopic(topic);
    return (await listSegments(path.join(this.root, topic))).length > 0;
  }

  /** Removes segments past retention in every topic, and topics whose newest event is older than maxAge. */
  async prune(): Promise<number> {
    let removed = 0;
    const topics = await readdir(this.root).catch(() => [] as string[]);
    for (const topic of topics) {
      if (!isTopic(topic)) continue; // .wake, and anything else that is not a topic's folder
      const dir = path.join(this.root, topic);
      const newest = (await listSegments(dir)).at(-1);
      if (await this.#idle(dir)) {
        if (await this.#removeIdle(dir)) removed++;
      } else if (newest) {
        await this.#dropOldSegments(dir, await lastIdOf(dir, newest));
      }
    }
    return removed;
  }

  /** Whether a topic's newest event is older than maxAge (a folder with none: the folder itself). */
  async #idle(dir: string): Promise<boolean> {
    const newest = (await listSegments(dir)).at(-1);
    const changed = (await stat(newest ? path.join(dir, newest.file) : dir).catch(() => undefined))?.mtimeMs;
    return changed !== undefined && Date.now() - changed > this.retention.maxAgeMs;
  }

  /** Removes an idle topic under its lock, so that no publish lands in a folder being removed; false when it is busy or no longer idle. */
  async #removeIdle(dir: string): Promise<boolean> {
    const release = await lockTopic(dir, false).catch(() => undefined);
    if (!release) return false;
    try {
      if (!(await this.#idle(dir))) return false;
      await rm(dir, { recursive: true, force: true });
      return true;
    } finally {
      await release().catch(() => undefined);
    }
  }

  /** Drops whole segments while at least `count` newer events remain, and segments older than maxAge (never the newest). */
  async #dropOldSegments(dir: string, lastId: number): Promise<void> {
    const segments = await listSegments(dir);
    for (let i = 0; i < segments.length - 1; i++) {
      const next = segments[i + 1]!;
      const file = path.join(dir, segments[i]!.file);
      const tooMany = lastId - next.first + 1 >= this.retention.count;
      const tooOld = Date.now() - ((await stat(file).catch(() => undefined))?.mtimeMs ?? Date.now()) > this.retention.maxAgeMs;
      if (!tooMany && !tooOld) break;
      await unlink(file).catch(() => undefined);
    }
  }

  /**
   * Tails a topic's segments from their current end, pushing complete new
   * lines. The topic's folder need not exist yet: nothing is watched on
   * disk, publishers wake us by name.
   */
  protected async watch(topic: string, push: (events: StoredEvent[]) => void): Promise<() => void> {
    const dir = path.join(this.root, topic);
    let position: { file: string; offset: number } | undefined;
    let reading = false;
    let again = false;
    let stopped = false;
    /** The id of the last event pushed; `position` may lag behind it after lines taken from wake-ups (then reads skip up to it). */
    let lastPushed: number | undefined;

    /** Reads to the end of the newest segment; a wake-up during a read makes it read once more. */
    const poke = async (late = false) => {
      if (reading) return void (again = true);
      reading = true;
      try {
        do {
          again = false;
          const found: StoredEvent[] = [];
          const current = await listSegments(dir);
          let index = position ? current.findIndex((segment) => segment.file === position!.file) : 0;
          if (index === -1) index = 0; // Our segment was dropped by retention: go on with what is left.
          for (let i = index; i < current.length; i++) {
            const segment = current[i]!;
            const offset = position?.file === segment.file ? position.offset : 0;
            const { lines, consumed } = await readCompleteLines(path.join(dir, segment.file), offset);
            for (const event of parseLines(topic, lines)) if (lastPushed === undefined || Number(event.id) > lastPushed) found.push(event);
            position = { file: segment.file, offset: offset + consumed };
          }
          if (found.length > 0) lastPushed = Number(found.at(-1)!.id);
          if (found.length > 0 && late) this.#lateReads++;
          if (found.length > 0 && !stopped) push(found);
        } while (again && !stopped);
      } catch {
        // The folder went (pruned) mid-read: the next wake-up reads again.
      } finally {
        reading = false;
      }
    };
    const wake = (detail: string | undefined) => {
      // The next event, exactly: pushed as the publisher appended it. Anything else (a gap, a read under way, no line): read the file.
      const space = detail?.indexOf(' ') ?? -1;
      if (detail && space > 0 && !reading && lastPushed !== undefined && Number(detail.slice(0, space)) === lastPushed + 1) {
        const [event] = parseLines(topic, detail.slice(space + 1));
        if (event && Number(event.id) === lastPushed + 1) {
          lastPushed += 1;
          if (!stopped) push([event]);
          return;
        }
      }
      void poke();
    };
    // Interest first, starting point second: a publish either wakes us or is before where we start (see WakeBus).
    await this.#wake.listen();
    this.#readers.set(topic, wake);
    this.#wake.keepAlive(true);
    try {
      const newest = (await listSegments(dir)).at(-1);
      position = newest ? { file: newest.file, offset: (await stat(path.join(dir, newest.file))).size } : undefined;
      // Never above the id at `position` (a later event read from the file is still pushed); undefined: the first comes from the file.
      if (newest) lastPushed = (await topicTail(dir, newest)).lastId;
    } catch (error) {
      if (this.#readers.get(topic) === wake) this.#readers.delete(topic);
      if (this.#readers.size === 0) this.#wake.keepAlive(false);
      throw error;
    }
    const timer = setInterval(() => void poke(true), this.#safetyMs);
    timer.unref();
    return () => {
      stopped = true;
      clearInterval(timer);
      if (this.#readers.get(topic) === wake) this.#readers.delete(topic);
      if (this.#readers.size === 0) this.#wake.keepAlive(false);
    };
  }
}

/**
 * Takes a topic's lock (creating its folder when `create`). A folder removed
 * by prune between the mkdir and the lock is made again: the publish goes to
 * the new one rather than failing.
 */
async function lockTopic(dir: string, create: boolean): Promise<() => Promise<void>> {
  for (let attempt = 1; ; attempt++) {
    if (create) await mkdir(dir, { recursive: true });
    try {
      return await lockfile.lock(dir, {
        lockfilePath: path.join(dir, '.lock'),
        realpath: false,
        stale: 10_000,
        retries: { retries: 200, factor: 1.2, minTimeout: 1, maxTimeout: 50 },
        onCompromised: () => undefined,
      });
    } catch (error) {
      if (!create || (error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw error;
    }
  }
}

interface Segment {
  file: string;
  first: number;
}

const segmentPattern = /^(\d{16})\.ndjson$/;

function segmentName(firstId: number): string {
  return `${String(firstId).padStart(16, '0')}.ndjson`;
}

async function listSegments(dir: string): Promise<Segment[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .map((file) => ({ file, match: segmentPattern.exec(file) }))
    .filter((entry): entry is { file: string; match: RegExpExecArray } => entry.match !== null)
    .map(({ file, match }) => ({ file, first: Number(match[1]) }))
    .sort((a, b) => a.first - b.first);
}

/** The last id of a topic whose newest segment is `newest` (0 for an empty topic). */
async function lastIdOf(dir: string, newest: Segment | undefined): Promise<number> {
  return (await topicTail(dir, newest)).lastId;
}

/** lastIdOf, and whether the newest segment ends with a whole line (a crash can cut its last one short). */
async function topicTail(dir: string, newest: Segment | undefined): Promise<Tail> {
  if (!newest) return { lastId: 0, ended: true, garbage: false };
  const tail = await segmentTail(path.join(dir, newest.file));
  return { lastId: tail.lastId ?? newest.first - 1, ended: tail.ended, garbage: tail.garbage };
}

interface Tail {
  lastId: number;
  ended: boolean;
  /** The last whole line is not an event (written by hand, or damaged). */
  garbage: boolean;
}

/** Why the newest segment cannot be appended to, if it cannot: ids would go back, or repeat. */
function damageOf(newest: Segment | undefined, tail: Tail, high: number): string | undefined {
  if (newest && tail.garbage) return 'its last line is not an event';
  if (tail.lastId < high) return newest ? `its last id is ${tail.lastId}, below ${high}, the highest given (cut short?)` : `no segment is left, ids went up to ${high}`;
  return undefined;
}

/** Renames a damaged segment out of the log (NAME.damaged-<time>) and says so in the process's log. */
async function setAside(dir: string, file: string, problem: string): Promise<void> {
  const aside = `${file}.damaged-${Date.now()}`;
  await rename(path.join(dir, file), path.join(dir, aside));
  const error = errors.eventLogDamaged(path.join(dir, file), problem, aside);
  console.error(`${error.code}: ${error.message}\n  ${error.hint ?? ''}`);
}

/** The highest id on any line of a segment, damaged or not. */
async function highestIdIn(file: string): Promise<number> {
  const text = await readFile(file, 'utf8').catch(() => '');
  let highest = 0;
  for (const match of text.matchAll(/^\{"id":(\d+),/gm)) highest = Math.max(highest, Number(match[1]));
  return highest;
}

/** Per topic: the highest id ever given (so ids are never reused, whatever happens to the segments) and the ranges lost to damage. */
interface TopicState {
  high: number;
  lost: [number, number][];
}

const stateFile = '.high-water.json';

async function readState(dir: string): Promise<TopicState> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dir, stateFile), 'utf8')) as Partial<TopicState>;
    return { high: Number(parsed.high) || 0, lost: Array.isArray(parsed.lost) ? parsed.lost : [] };
  } catch {
    return { high: 0, lost: [] };
  }
}

/** Replaced whole (temporary file, then rename): a reader never sees half of it. */
async function writeState(dir: string, state: TopicState): Promise<void> {
  // writeFileAtomic also removes its temporary file when the disk is full.
  await writeFileAtomic(path.join(dir, stateFile), JSON.stringify(state));
}

/** A segment's events, up to its last complete line. */
async function readSegment(topic: string, file: string): Promise<StoredEvent[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return parseLines(topic, text.slice(0, text.lastIndexOf('\n') + 1));
}

/** The id on the last complete line of a segment (undefined when it has none), and whether its last byte ends a line. */
async function segmentTail(file: string): Promise<{ lastId: number | undefined; ended: boolean; garbage: boolean }> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return { lastId: undefined, ended: true, garbage: false };
  }
  try {
    const { size } = await handle.stat();
    // The first read ends at the last byte; an empty segment counts as ended.
    let ended: boolean | undefined;
    for (let length = Math.min(size, 4096); length > 0; length = Math.min(size, length * 4)) {
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      ended ??= buffer[length - 1] === 0x0a;
      const text = buffer.toString('utf8');
      const end = text.lastIndexOf('\n');
      const start = text.lastIndexOf('\n', end - 1);
      if (end > 0 && (start >= 0 || length === size)) {
        const line = text.slice(start + 1, end);
        const match = /^\{"id":(\d+),/.exec(line);
        return { lastId: match ? Number(match[1]) : undefined, ended: ended ?? true, garbage: !match && line.trim() !== '' };
      }
      if (length === size) return { lastId: undefined, ended: ended ?? true, garbage: false };
    }
    return { lastId: undefined, ended: ended ?? true, garbage: false };
  } finally {
    await handle.close();
  }
}

/** Reads from `offset` to the last newline: a line still being written is left for the next read. */
async function readCompleteLines(file: string, offset: number): Promise<{ lines: string; consumed: number }> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return { lines: '', consumed: 0 };
  }
  try {
    const { size } = await handle.stat();
    if (size <= offset) return { lines: '', consumed: 0 };
    const buffer = Buffer.alloc(size - offset);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
    const end = buffer.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (end === -1) return { lines: '', consumed: 0 };
    return { lines: buffer.subarray(0, end + 1).toString('utf8'), consumed: end + 1 };
  } finally {
    await handle.close();
  }
}

function parseLines(topic: string, text: string): StoredEvent[] {
  const events: StoredEvent[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const { id, at, data } = JSON.parse(line) as { id: number; at: string; data: unknown };
      events.push({ id: String(id), topic, at, data });
    } catch {
      // Not ours (or damaged by hand): skip it rather than stop the stream.
    }
  }
  return events;
}

