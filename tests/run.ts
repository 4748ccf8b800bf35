// `pnpm test` runs this: makes sure Chromium and redis-server are installed
// and the reference site's build is fresh (integration tests serve it), and
// Node 22 and 24 for the adoption matrix, then runs every *.test.ts under tests/ with node's test
// runner, one file at a time (each file starts its own PM2 daemon and
// cluster; a 2-core machine gains nothing from running two at once).
//
//   pnpm test                 everything
//   pnpm test server cluster  only files whose path contains one of the words
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { nodeBinDir } from './setup/node-versions.js';
import { ensureFreshBuild } from './setup/site-build.js';
import { ensureSystemPackages } from './setup/system-packages.js';

const root = path.dirname(new URL(import.meta.url).pathname);
const filters = process.argv.slice(2);
const files = walk(root)
  .filter((file) => file.endsWith('.test.ts'))
  .filter((file) => filters.length === 0 || filters.some((word) => path.relative(root, file).includes(word)))
  .sort(byLayer);

if (files.length === 0) {
  console.error(`no test file matches ${filters.join(' ')}`);
  process.exit(1);
}

ensureSystemPackages();
await ensureFreshBuild();
// tests/adoption installs the packed kit into a throwaway repo per <astro major>@<node>:
// by default Astro 5 on this Node; in CI (or with ADOPTION_MATRIX set) Astro 7 on
// Node 22 and Astro 6 on Node 24 as well, those Nodes from the npm registry.
process.env.ADOPTION_MATRIX ??= process.env.CI ? '5@system,7@22,6@24' : '5@system';
if (files.some((file) => file.includes(`${path.sep}adoption${path.sep}`))) {
  for (const entry of process.env.ADOPTION_MATRIX.split(',')) {
    const major = entry.split('@')[1]?.trim();
    if (major === '22' || major === '24') await nodeBinDir(Number(major) as 22 | 24);
  }
}

let passed = 0;
let failed = 0;
let skipped = 0;
const stream = run({ files, concurrency: 1 });
stream.on('test:pass', ({ details, skip, todo }) => {
  if (details.type === 'suite') return;
  if (skip || todo) skipped++;
  else passed++;
});
stream.on('test:fail', ({ details }) => {
  if (details.type !== 'suite') failed++;
});
const report = stream.compose(new spec());
report.pipe(process.stdout);
report.on('end', () => {
  console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
});

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(path.join(dir, entry.name)) : [path.join(dir, entry.name)],
  );
}

/** Fast unit tests first, then integration, then the browser: failures show up early. */
function byLayer(a: string, b: string): number {
  const rank = (file: string) => (file.includes('.unit.') ? 0 : file.includes('/browser/') ? 2 : 1);
  return rank(a) - rank(b) || a.localeCompare(b);
}
