import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * Whether the repo keeps its own agents launcher: an executable bin/mh at
 * the root. It then stays the launcher (agents.launcher runs its commands)
 * rather than the kit starting agents of its own beside it. The kit's own
 * bin/mh front (over `astro-cluster agents`) is not such a launcher: as
 * agents.launcher it would only call the kit back.
 */
export async function hasOwnLauncher(root: string): Promise<boolean> {
  const file = path.join(root, 'bin', 'mh');
  try {
    if (!(await stat(file)).isFile()) return false;
    await access(file, constants.X_OK);
  } catch {
    return false;
  }
  const text = await readFile(file, 'utf8').catch(() => '');
  return !/node_modules\/\.bin\/astro-cluster"?[\s\S]*\bagents\b/.test(text);
}
