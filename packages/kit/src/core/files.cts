import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Replaces a file's content all at once: readers see the old file or the new
 * one, never half of either (write a temporary file, then rename over).
 */
export async function writeFileAtomic(file: string, content: string, mode?: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    // The mode is set at creation: a private file is never readable by others, even for a moment.
    await writeFile(temporary, content, mode === undefined ? undefined : { mode });
    await rename(temporary, file);
  } catch (error) {
    // A full disk leaves an empty or partial temporary file: removed, so that none pile up.
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/**
 * The paths under `root` that match `pattern`, a path relative to it with
 * `*` and `?` in the file name only (`agents/*.log`). A missing folder
 * matches nothing.
 */
export async function matchingFiles(root: string, pattern: string): Promise<string[]> {
  const dir = path.join(root, path.dirname(pattern));
  const source = path.basename(pattern).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  const matcher = new RegExp(`^${source}$`);
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((name) => matcher.test(name)).map((name) => path.join(dir, name));
}

/**
 * A JSON file's content, or undefined when it is missing or does not parse
 * (state files are written whole, so a parse error means someone else wrote
 * it: starting from nothing beats crashing).
 */
export async function readJsonFile<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
