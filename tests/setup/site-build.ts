import os from 'node:os';
import path from 'node:path';
import { readSettings } from '@kit/core';
import { buildState, buildTried, currentLink, switchTo, withReleasesLock } from '@kit/deploy';

/** Builds (and makes current) a release of the site when the current one is missing or older than its sources. */
export async function ensureFreshBuild(): Promise<void> {
  const state = await buildState(currentLink);
  if (state === 'fresh' || state === 'rolled-back') return;
  console.log(`▸ building a release of the site (${state})`);
  const report = { step() {}, progress() {}, done() {}, warn() {}, output: (line: string) => console.log(`  │ ${line}`) };
  const settings = readSettings({ ...process.env, LOGS_DIR: path.join(os.tmpdir(), 'kit-test-build'), SITE_DIR: '' });
  await withReleasesLock(async () => switchTo(settings, await buildTried(settings, report), { reload: false }, report));
}
