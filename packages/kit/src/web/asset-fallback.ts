import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import send from 'send';
import { pathOf, type Handler } from '../server/index.js';

/**
 * Serves a hashed asset (/_astro/…) that the current release no longer has
 * from the other releases kept beside it. A page rendered by a worker of
 * another release (older during a deploy, newer during a rollback) points at
 * that release's assets, and the browser may fetch them from any worker.
 *
 * It serves them with `send`, as @astrojs/node serves the current release's
 * client files, so an old asset keeps the same caching semantics: ETag,
 * Last-Modified, Accept-Ranges, Range (206/416) and conditional 304s.
 */
export function assetFallback(clientDir: string, releasesDir: string | undefined, handler: Handler): Handler {
  if (!releasesDir) return handler;
  return async (req, res) => {
    const name = /^\/_astro\/([A-Za-z0-9._-]+)$/.exec(pathOf(req.url))?.[1];
    if (!name || name.startsWith('.') || (req.method !== 'GET' && req.method !== 'HEAD') || (await isFile(path.join(clientDir, '_astro', name)))) {
      return handler(req, res);
    }
    const releaseClient = await findInReleases(releasesDir, name);
    if (!releaseClient) return handler(req, res);
    const stream = send(req, `/_astro/${name}`, { root: releaseClient, dotfiles: 'deny', index: false });
    // The same header the adapter sets on its own /_astro/ files.
    stream.on('headers', (response) => response.setHeader('Cache-Control', 'public, max-age=31536000, immutable'));
    // No 'error' listener: send answers 416 (with Content-Range), 412 and a
    // 404 for a release pruned since the lookup itself. (The adapter hands
    // every such error to SSR, so its own files answer 404 to a range beyond
    // their end.)
    stream.pipe(res);
  };
}

/** The client folder of the newest other release that has `_astro/<name>`. */
async function findInReleases(releasesDir: string, name: string): Promise<string | undefined> {
  const releases = (await readdir(releasesDir).catch(() => [] as string[])).filter((entry) => !entry.startsWith('.')).sort().reverse();
  for (const release of releases) {
    const client = path.join(releasesDir, release, 'client');
    if (await isFile(path.join(client, '_astro', name))) return client;
  }
  return undefined;
}

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isFile() === true;
}
