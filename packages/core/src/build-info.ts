import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { errors } from './errors.js';

/** What apps/site/integrations/build-info.ts writes into every build. */
export interface BuildInfo {
  id: string;
  builtAt: string;
}

export async function readBuildInfo(siteDir: string): Promise<BuildInfo> {
  try {
    const info = JSON.parse(await readFile(path.join(siteDir, 'build.json'), 'utf8')) as Partial<BuildInfo>;
    if (typeof info.id !== 'string' || typeof info.builtAt !== 'string') throw new Error('build.json lacks id or builtAt');
    return { id: info.id, builtAt: info.builtAt };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw errors.buildMissing(siteDir);
    throw error;
  }
}
