import { open } from 'node:fs/promises';

/** The last `lines` non-empty lines of a log file ('' when it does not exist), read backwards in chunks. */
export async function tailLines(file: string, lines: number): Promise<string> {
  if (lines <= 0) return '';
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await handle.stat();
    const chunks: Buffer[] = [];
    let position = size;
    let newlines = 0;
    while (position > 0 && newlines <= lines) {
      const length = Math.min(position, 64 * 1024);
      position -= length;
      const chunk = Buffer.alloc(length);
      await handle.read(chunk, 0, length, position);
      chunks.unshift(chunk);
      for (const byte of chunk) if (byte === 0x0a) newlines++;
    }
    return Buffer.concat(chunks).toString('utf8').split('\n').filter((line) => line.trim() !== '').slice(-lines).join('\n');
  } finally {
    await handle.close();
  }
}
