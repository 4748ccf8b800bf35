import path from 'node:path';
import { kitRoot } from '@kit/core';

/** The Astro app. */
export const siteRoot = path.join(kitRoot, 'apps', 'site');
/** One folder per build, named by its build id. */
export const releasesDir = path.join(siteRoot, 'releases');
/** A symlink to the current release: what SITE_DIR points at by default, and what workers import. */
export const currentLink = path.join(siteRoot, 'dist');
/** Which release was current when, newest last: rollback reads it. */
export const historyFile = path.join(releasesDir, 'history.json');
