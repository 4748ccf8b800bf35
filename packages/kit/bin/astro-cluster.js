#!/usr/bin/env node
// The astro-cluster command (astro-cluster --help). Installed from a tarball
// the kit is compiled already; in a checkout of the kit (src/ beside dist/)
// it is compiled here first whenever a source is newer than the last compile.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stamp = path.join(root, 'dist', '.compiled');

function newest(entry) {
  const info = statSync(entry);
  if (!info.isDirectory()) return info.mtimeMs;
  return Math.max(info.mtimeMs, ...readdirSync(entry).map((name) => newest(path.join(entry, name))));
}

function stale() {
  if (!existsSync(stamp)) return true;
  const compiled = statSync(stamp).mtimeMs;
  return newest(path.join(root, 'src')) > compiled || newest(path.join(root, 'tsconfig.json')) > compiled || newest(path.join(root, '..', '..', 'tsconfig.json')) > compiled;
}

async function compileIfStale() {
  if (!stale()) return;
  // One compile at a time when several commands start at once: a lock folder, taken over when older than 5 minutes.
  const lock = path.join(root, 'dist.compile-lock');
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })?.mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    if (!stale()) return;
    let tsc;
    try {
      tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
    } catch {
      fail(`the kit in ${root} needs compiling but TypeScript is not installed: run 'pnpm install'`);
    }
    process.stderr.write('▸ compiling astro-cluster-kit (tsc)\n');
    const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit' });
    if (result.status !== 0) fail("the kit's TypeScript does not compile (see above)");
    writeFileSync(stamp, '');
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function fail(message) {
  process.stderr.write(`✗ ${message}\n`);
  process.exit(1);
}

if (existsSync(path.join(root, 'src'))) await compileIfStale();
await import('../dist/cli/main.js');
