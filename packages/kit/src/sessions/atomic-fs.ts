import { access, readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../core/index.cjs';
import type { Driver } from 'unstorage';

/**
 * Sessions as one file each, replaced whole (write a temporary file, then
 * rename): a worker reading while another writes sees the old session or
 * the new one, never half of one. Astro's default fs-lite driver rewrites
 * the file in place, and concurrent workers then read truncated JSON.
 */
export function atomicFsDriver(base: string): Driver {
  const file = (key: string) => {
    const name = encodeURIComponent(key);
    if (name === '' || name === '.' || name === '..' || name.length > 200) throw new Error(`unusable session key ${JSON.stringify(key)}`);
    return path.join(base, name);
  };
  const keys = async () => (await readdir(base).catch(() => [] as string[])).filter((name) => !name.endsWith('.tmp')).map(decodeURIComponent);
  return {
    name: 'kit-atomic-fs',
    async hasItem(key) {
      return access(file(key)).then(() => true, () => false);
    },
    async getItem(key) {
      try {
        return await readFile(file(key), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
    async setItem(key, value) {
      await writeFileAtomic(file(key), value);
    },
    async removeItem(key) {
      await unlink(file(key)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    },
    getKeys: keys,
    async clear() {
      for (const key of await keys()) await unlink(file(key)).catch(() => undefined);
    },
  };
}
