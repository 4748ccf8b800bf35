import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { readSettings } from 'astro-cluster-kit/core';
import { buildState, siteInputs } from 'astro-cluster-kit/deploy';

// A pnpm repo in a temporary folder: apps/web depends on the workspace package
// packages/ui (linked into its node_modules, as pnpm does) and on astro (a real
// dependency, under node_modules/.pnpm).
const root = mkdtempSync(path.join(os.tmpdir(), 'kit-inputs-'));
after(() => rmSync(root, { recursive: true, force: true }));
const web = path.join(root, 'apps', 'web');
const ui = path.join(root, 'packages', 'ui');
const store = path.join(root, 'node_modules', '.pnpm', 'astro@5.18.2', 'node_modules', 'astro');
for (const dir of [path.join(web, 'src'), path.join(web, 'node_modules'), path.join(ui, 'src'), store]) mkdirSync(dir, { recursive: true });
writeFileSync(path.join(web, 'package.json'), JSON.stringify({ dependencies: { astro: '5.18.2', ui: 'workspace:*' }, devDependencies: { missing: '1.0.0' } }));
writeFileSync(path.join(web, 'astro.config.mjs'), 'export default {};\n');
writeFileSync(path.join(web, 'src', 'page.astro'), '<p>hi</p>\n');
writeFileSync(path.join(ui, 'src', 'button.ts'), 'export const button = 1;\n');
symlinkSync(path.relative(path.join(web, 'node_modules'), ui), path.join(web, 'node_modules', 'ui'));
symlinkSync(path.relative(path.join(web, 'node_modules'), store), path.join(web, 'node_modules', 'astro'));
writeFileSync(path.join(root, 'astro-cluster.config.json'), JSON.stringify({ site: { dir: 'apps/web' } }));

const settings = () => readSettings({ ASTRO_CLUSTER_ROOT: root });

test('the inputs are the site and the workspace packages it depends on, not installed dependencies', async () => {
  assert.deepEqual(await siteInputs(settings()), [web, ui]);
});

test('site.inputs in the config replaces the default', async () => {
  assert.deepEqual(await siteInputs({ ...settings(), siteInputs: [path.join(root, 'content')] }), [path.join(root, 'content')]);
});

test('a build is stale when astro.config.mjs or a workspace package changes after it, and not for the site\'s own dist', async () => {
  const current = path.join(root, '.astro-cluster', 'current');
  assert.equal(await buildState(settings()), 'missing');
  mkdirSync(path.join(root, '.astro-cluster', 'releases', 'r1'), { recursive: true });
  symlinkSync('releases/r1', current);
  writeFileSync(path.join(current, 'build.json'), JSON.stringify({ id: 'r1', builtAt: new Date().toISOString() }));
  const built = Date.now() / 1000;
  const past = built - 60;
  for (const file of [path.join(web, 'astro.config.mjs'), path.join(web, 'src', 'page.astro'), path.join(ui, 'src', 'button.ts'), path.join(web, 'package.json')]) {
    utimesSync(file, past, past);
  }
  for (const dir of [web, path.join(web, 'src'), ui, path.join(ui, 'src'), path.join(web, 'node_modules')]) utimesSync(dir, past, past);
  assert.equal(await buildState(settings()), 'fresh');

  // What a build writes into the site's folder is no source.
  mkdirSync(path.join(web, 'dist', 'server'), { recursive: true });
  writeFileSync(path.join(web, 'dist', 'server', 'entry.mjs'), '');
  utimesSync(web, past, past);
  assert.equal(await buildState(settings()), 'fresh');

  utimesSync(path.join(web, 'astro.config.mjs'), built + 5, built + 5);
  assert.equal(await buildState(settings()), 'stale');
  utimesSync(path.join(web, 'astro.config.mjs'), past, past);
  utimesSync(path.join(ui, 'src', 'button.ts'), built + 5, built + 5);
  assert.equal(await buildState(settings()), 'stale');
});
