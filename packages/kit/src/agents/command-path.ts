import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/**
 * The PATH an agent's command runs with: the project's node_modules/.bin
 * first (so `tsx`, `astro` and the like resolve as under `pnpm exec`), then
 * the kit's environment.
 */
export function commandPath(root: string, inherited: string | undefined = process.env.PATH): string {
  return [path.join(root, 'node_modules', '.bin'), ...(inherited ?? '').split(path.delimiter).filter(Boolean)].join(path.delimiter);
}

/**
 * The executable `command` names, or undefined when there is none: a path
 * (relative to `cwd`) must exist and be executable; a bare word is looked
 * up on `searchPath`.
 */
export function findExecutable(command: string, cwd: string, searchPath: string): string | undefined {
  const candidates = command.includes('/') ? [path.resolve(cwd, command)] : searchPath.split(path.delimiter).map((dir) => path.join(dir, command));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
