import path from 'node:path';
import type { Settings } from '../core/index.cjs';

/** Where the kit keeps the site's releases, from the settings (releases.dir). */
export interface ReleasePaths {
  /** One folder per build, named by its build id. */
  releasesDir: string;
  /** A symlink to the current release: SITE_DIR's default, what workers import. */
  currentLink: string;
  /** Which release was current when, newest last: rollback reads it. */
  historyFile: string;
}

export function releasePaths(settings: Pick<Settings, 'releasesDir' | 'currentLink'>): ReleasePaths {
  return { releasesDir: settings.releasesDir, currentLink: settings.currentLink, historyFile: path.join(settings.releasesDir, 'history.json') };
}
