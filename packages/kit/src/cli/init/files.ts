import { existsSync } from 'node:fs';
import { chmod, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../core/index.cjs';

/** A file init owns: its path relative to the root, its whole content, its mode when it matters. */
export interface FileSpec {
  path: string;
  content: string;
  mode?: number;
}

/**
 * What init does to one file: write it (moving a different one aside to
 * NAME.orig first), only fix its mode, or nothing. `aside` alone (no
 * content) moves a file out of the way without a replacement.
 */
export interface FileChange {
  path: string;
  action: 'write' | 'chmod' | 'none' | 'move-aside';
  content?: string;
  mode?: number;
  /** Where the file that is there now goes, relative to the root. */
  aside?: string;
}

/** Compares a file with what init would write; a file already right is left alone (bytes and mtime). */
export async function planFile(root: string, spec: FileSpec): Promise<FileChange> {
  const file = path.join(root, spec.path);
  const current = await readFile(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (current === undefined) return { ...spec, action: 'write' };
  if (!current.equals(Buffer.from(spec.content))) return { ...spec, action: 'write', aside: origName(root, spec.path) };
  if (spec.mode !== undefined && ((await stat(file)).mode & 0o777) !== spec.mode) return { ...spec, action: 'chmod' };
  return { ...spec, action: 'none' };
}

/** Moves `relative` out of the way, when it exists: a file the kit would pick up instead of the one init writes. */
export function planAside(root: string, relative: string): FileChange | undefined {
  return existsSync(path.join(root, relative)) ? { path: relative, action: 'move-aside', aside: origName(root, relative) } : undefined;
}

export async function applyFile(root: string, change: FileChange): Promise<void> {
  const file = path.join(root, change.path);
  if (change.aside) await rename(file, path.join(root, change.aside));
  if (change.content !== undefined && change.action === 'write') await writeFileAtomic(file, change.content);
  if (change.mode !== undefined && change.action !== 'none') await chmod(file, change.mode);
}

/** NAME.orig, or NAME.orig.1, .2 … when that is taken: an earlier original is never overwritten. */
function origName(root: string, relative: string): string {
  for (let n = 0; ; n++) {
    const candidate = n === 0 ? `${relative}.orig` : `${relative}.orig.${n}`;
    if (!existsSync(path.join(root, candidate))) return candidate;
  }
}
