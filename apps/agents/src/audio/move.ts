import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, link, mkdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Moves `source` into `dir` under its own name, or `name (1).ext`,
 * `name (2).ext`… when that name is taken. Never overwrites: link(2) fails
 * on an existing name, atomically. The source goes only once the copy is in
 * place, so a crash midway leaves the file in both places, never in none.
 */
export async function moveWithoutOverwrite(source: string, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const ext = path.extname(source);
  const stem = path.basename(source, ext);
  for (let attempt = 0; attempt < 10_000; attempt++) {
    const target = path.join(dir, attempt === 0 ? `${stem}${ext}` : `${stem} (${attempt})${ext}`);
    try {
      await linkOrCopy(source, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (await sameFile(source, target)) {
        // An earlier move linked it and stopped before removing the source.
        await unlink(source);
        return target;
      }
      continue;
    }
    await unlink(source);
    return target;
  }
  throw new Error(`no free name for ${path.basename(source)} in ${dir}`);
}

async function linkOrCopy(source: string, target: string): Promise<void> {
  try {
    await link(source, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    // Another filesystem: copy beside the target, then link it into place (still never over an existing name).
    const partial = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(4).toString('hex')}.partial`);
    await copyFile(source, partial, constants.COPYFILE_EXCL);
    try {
      await link(partial, target);
    } finally {
      await unlink(partial);
    }
  }
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([stat(a), stat(b)]);
  return x.dev === y.dev && x.ino === y.ino;
}
