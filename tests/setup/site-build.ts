import os from 'node:os';
import path from 'node:path';
import { readSettings } from 'astro-cluster-kit/core';
import { buildState, buildTried, switchTo, withReleasesLock } from 'astro-cluster-kit/deploy';
import { repoRoot } from '../helpers/kit.js';

/** Builds (and makes current) a release of the reference site when the current one is missing or older than its sources. */
export async function ensureFreshBuild(): Promise<void> {
  const settings = readSettings({ ...process.env, ASTRO_CLUSTER_ROOT: repoRoot, LOGS_DIR: path.join(os.tmpdir(), 'kit-test-build'), SITE_DIR: '' });
  const state = await buildState(settings);
  if (state === 'fresh' || state === 'rolled-back') return;
  console.log(`▸ building a release of the site (${state})`);
  const report = { step() {}, progress() {}, done() {}, warn() {}, output: (line: string) => console.log(`  │ ${line}`) };
  await withReleasesLock(settings, async () => switchTo(settings, await buildTried(settings, report), { reload: false }, report));
}
