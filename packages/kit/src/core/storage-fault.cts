/**
 * The codes of a store that cannot be written: a full disk or quota, a
 * read-only or unreachable file system, no permission, a path where a
 * folder should be a plain file. None passes by retrying at once, so the
 * caller answers 503 (try later) with the cause, rather than 500 or nothing.
 */
const storageCodes = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'ENOTDIR', 'EEXIST', 'EISDIR', 'EIO', 'ENAMETOOLONG']);

/** The storage error in `error` or its causes (Astro wraps a driver's error in its own), if there is one. */
export function storageFault(error: unknown): { code: string; message: string } | undefined {
  for (let current = error, depth = 0; current && depth < 8; current = (current as { cause?: unknown }).cause, depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && storageCodes.has(code)) return { code, message: (current as Error).message ?? code };
  }
  return undefined;
}
