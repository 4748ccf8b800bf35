import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import path from 'node:path';
import { pathOf, type Handler } from '../server/index.js';

const types: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.gif': 'image/gif',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.wasm': 'application/wasm',
};

/**
 * Serves a hashed asset (/_astro/…) that the current release no longer has
 * from the other releases kept beside it. A page rendered by a worker of
 * another release (older during a deploy, newer during a rollback) points at
 * that release's assets, and the browser may fetch them from any worker.
 */
export function assetFallback(clientDir: string, releasesDir: string | undefined, handler: Handler): Handler {
  if (!releasesDir) return handler;
  return async (req, res) => {
    const name = /^\/_astro\/([A-Za-z0-9._-]+)$/.exec(pathOf(req.url))?.[1];
    if (!name || name.startsWith('.') || (req.method !== 'GET' && req.method !== 'HEAD') || (await isFile(path.join(clientDir, '_astro', name)))) {
      return handler(req, res);
    }
    const found = await findInReleases(releasesDir, name);
    if (!found) return handler(req, res);
    const { file, size } = found;
    res.writeHead(200, {
      'Content-Type': types[path.extname(name).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': size,
      'Cache-Control': 'public, max-age=31536000, immutable',
    });
    if (req.method === 'HEAD') return void res.end();
    // pipeline closes the file too when the client goes away mid-way.
    pipeline(createReadStream(file), res, () => undefined);
  };
}

async function findInReleases(releasesDir: string, name: string): Promise<{ file: string; size: number } | undefined> {
  const releases = (await readdir(releasesDir).catch(() => [] as string[])).filter((entry) => !entry.startsWith('.')).sort().reverse();
  for (const release of releases) {
    const file = path.join(releasesDir, release, 'client', '_astro', name);
    const info = await stat(file).catch(() => undefined);
    if (info?.isFile()) return { file, size: info.size };
  }
  return undefined;
}

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isFile() === true;
}
