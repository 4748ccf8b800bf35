import { open } from 'node:fs/promises';

/** The last `lines` lines of a log file ('' when it does not exist). Reads at most the last 64 KiB. */
export async function tailLines(file: string, lines: number): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8').split('\n').filter((line) => line.trim() !== '').slice(-lines).join('\n');
  } finally {
    await handle.close();
  }
}
