import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Prints what is appended to a file until the process is interrupted, like
 * `tail -F`: a file that shrank or was replaced (rotated) is read again from
 * its start, and one that does not exist yet is waited for.
 */
export async function followFile(file: string, write: (text: string) => void): Promise<never> {
  const first = await stat(file).catch(() => undefined);
  let position = first?.size ?? 0;
  let inode = first?.ino;
  for (;;) {
    const info = await stat(file).catch(() => undefined);
    if (info) {
      if (info.ino !== inode || info.size < position) {
        inode = info.ino;
        position = 0;
      }
      // Rotation may rename the file between stat and open: look again next time.
      const handle = info.size > position ? await open(file, 'r').catch(() => undefined) : undefined;
      if (handle) {
        try {
          const buffer = Buffer.alloc(info.size - position);
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
          position += bytesRead;
          write(buffer.subarray(0, bytesRead).toString('utf8'));
        } finally {
          await handle.close();
        }
      }
    }
    await sleep(250);
  }
}
