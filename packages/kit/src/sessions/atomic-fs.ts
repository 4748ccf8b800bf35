import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { access, readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../core/index.cjs';
import type { Driver } from 'unstorage';

/** Session files and their folder are the owner's alone: a session file is a sign-in. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/**
 * Sessions as one file each, replaced whole (write a temporary file, then
 * rename): a worker reading while another writes sees the old session or
 * the new one, never half of one. Astro's default fs-lite driver rewrites
 * the file in place, and concurrent workers then read truncated JSON.
 *
 * A file is named by the SHA-256 of the session id, not the id: a name seen
 * in a listing is not a cookie. Keys must be checked before (guardKeys).
 * getKeys therefore lists hashes, not ids (Astro does not list sessions).
 */
export function atomicFsDriver(base: string): Driver {
  ensurePrivateFolder(base);
  const file = (key: string) => path.join(base, createHash('sha256').update(key).digest('hex'));
  const keys = async () => (await readdir(base).catch(() => [] as string[])).filter((name) => !name.endsWith('.tmp'));
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
      await writeFileAtomic(file(key), value, FILE_MODE);
    },
    async removeItem(key) {
      await unlink(file(key)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    },
    getKeys: keys,
    async clear() {
      for (const name of await keys()) await unlink(path.join(base, name)).catch(() => undefined);
    },
  };
}

/** Creates the folder 0700, and tightens one an older kit made 0755. */
function ensurePrivateFolder(base: string): void {
  mkdirSync(base, { recursive: true, mode: DIR_MODE });
  chmodSync(base, DIR_MODE);
}
