import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { moveWithoutOverwrite } from './move.js';
import { detectAudio, looksComplete, SIGNATURE_BYTES, type AudioKind } from './signature.js';

export interface OrganizerOptions {
  inbox: string;
  library: string;
  /** A file must be unchanged this long before it is moved. */
  settleMs: number;
  log: (line: string) => void;
  /** Wraps each move: the agent runtime checks its lock right before acting. */
  act?: <T>(work: () => Promise<T>) => Promise<T>;
  /** Told of each move (the agent reports it on the audit topic). */
  moved?: (name: string, target: string) => void;
}

interface Seen {
  size: number;
  mtimeMs: number;
  /** Why it was last left alone, so that each reason is logged once per file. */
  note?: string;
}

/** Names that belong to a download or copy still in progress, or to the system. */
const inProgress = /^\.|\.(part|partial|tmp|crdownload|download)$/i;

/**
 * One pass over the inbox files audio into LIBRARY/YYYY/MM/DD (the day the
 * file was last written, local time). Files that are not audio stay where
 * they are; files still changing, or whose header says they are incomplete,
 * wait for a later pass.
 */
export class AudioOrganizer {
  readonly #seen = new Map<string, Seen>();

  constructor(readonly options: OrganizerOptions) {}

  async pass(now = Date.now()): Promise<string[]> {
    const { inbox, library, settleMs, log } = this.options;
    const moved: string[] = [];
    const entries = await readdir(inbox, { withFileTypes: true });
    const present = new Set<string>();
    for (const entry of entries) {
      if (!entry.isFile() || inProgress.test(entry.name)) continue;
      present.add(entry.name);
      const file = path.join(inbox, entry.name);
      const info = await stat(file).catch(() => undefined);
      if (!info) continue;
      const before = this.#seen.get(entry.name);
      const seen: Seen = { size: info.size, mtimeMs: info.mtimeMs, ...(before?.size === info.size && before.mtimeMs === info.mtimeMs && before.note ? { note: before.note } : {}) };
      this.#seen.set(entry.name, seen);
      const unchanged = before !== undefined && before.size === info.size && before.mtimeMs === info.mtimeMs;
      if (!unchanged || now - info.mtimeMs < settleMs) continue;

      const head = await readHead(file);
      const kind = detectAudio(head);
      if (!kind) {
        this.#noteOnce(entry.name, seen, 'left in the inbox: not an audio file (by content)', log);
        continue;
      }
      if (!looksComplete(kind, head, info.size)) {
        this.#noteOnce(entry.name, seen, `waiting: its ${kind.toUpperCase()} header says it is not complete yet`, log);
        continue;
      }
      const act = this.options.act ?? ((work) => work());
      const target = await act(() => moveWithoutOverwrite(file, path.join(library, datedFolder(info.mtimeMs))));
      this.#seen.delete(entry.name);
      log(`moved ${entry.name} (${describe(kind, info.size)}) to ${path.relative(library, target)}`);
      this.options.moved?.(entry.name, path.relative(library, target));
      moved.push(target);
    }
    for (const name of this.#seen.keys()) if (!present.has(name)) this.#seen.delete(name);
    return moved;
  }

  #noteOnce(name: string, seen: Seen, note: string, log: (line: string) => void): void {
    if (seen.note === note) return;
    seen.note = note;
    log(`${name}: ${note}`);
  }
}

export function datedFolder(mtimeMs: number): string {
  const day = new Date(mtimeMs);
  const pad = (n: number) => String(n).padStart(2, '0');
  return path.join(String(day.getFullYear()), pad(day.getMonth() + 1), pad(day.getDate()));
}

async function readHead(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(SIGNATURE_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SIGNATURE_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function describe(kind: AudioKind, size: number): string {
  return `${kind}, ${size} bytes`;
}
