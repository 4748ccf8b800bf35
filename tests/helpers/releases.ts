import { cpSync, mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './kit.js';

/**
 * A releases folder of this test's own, holding a copy of the repo's current
 * release, with a `current` link beside it (what SITE_DIR points at). It
 * lives under the repo's .astro-cluster/ (ignored by git) because a build's
 * server code imports `astro` and the kit by name, resolved from the repo's
 * node_modules; other test files never look into it.
 */
export class TempReleases {
  readonly releasesDir: string;
  readonly currentLink: string;

  private constructor(readonly dir: string) {
    this.releasesDir = path.join(dir, 'releases');
    this.currentLink = path.join(dir, 'current');
  }

  /** With one release, `id`, copied from the repo's current one, and made current. */
  static create(id: string): TempReleases {
    mkdirSync(path.join(repoRoot, '.astro-cluster'), { recursive: true });
    const releases = new TempReleases(mkdtempSync(path.join(repoRoot, '.astro-cluster', 'test-')));
    releases.copyOfCurrent(id);
    releases.switchTo(id);
    return releases;
  }

  /** Adds a copy of the repo's current release named `id`, its build.json saying so. */
  copyOfCurrent(id: string): string {
    const dir = path.join(this.releasesDir, id);
    cpSync(realpathSync(path.join(repoRoot, '.astro-cluster', 'current')), dir, { recursive: true, preserveTimestamps: true });
    writeFileSync(path.join(dir, 'build.json'), JSON.stringify({ id, builtAt: new Date().toISOString() }));
    return dir;
  }

  /** Adds a release whose server entry throws as soon as it is imported. */
  broken(id: string): string {
    const dir = path.join(this.releasesDir, id);
    mkdirSync(path.join(dir, 'server'), { recursive: true });
    writeFileSync(path.join(dir, 'build.json'), JSON.stringify({ id, builtAt: new Date().toISOString() }));
    writeFileSync(path.join(dir, 'server', 'entry.mjs'), "throw new Error('this release cannot start');\n");
    return dir;
  }

  /** Points `current` at release `id` in one rename, as a deploy does. */
  switchTo(id: string): void {
    const temporary = `${this.currentLink}.tmp`;
    rmSync(temporary, { force: true });
    symlinkSync(path.join('releases', id), temporary);
    renameSync(temporary, this.currentLink);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
