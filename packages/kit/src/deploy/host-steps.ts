import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { errors, readBuildInfo, type Reporter, type Settings } from '../core/index.cjs';
import { putBackInRotation, takeOutOfRotation } from '../hosts/rotation.js';
import type { Release } from './build.js';
import { switchTo, trial, withReleasesLock, type DeployResult } from './deploy.js';
import { currentRelease, listReleases, previousRelease } from './releases.js';
import { releasePaths } from './site-paths.js';

// What `deploy --hosts` runs on each host (as `astro-cluster deploy --receive`,
// `--release`, `--show`): each step is a plain command an operator can run
// by hand on a host, in the same order (docs/multi-host.md).

/**
 * Phase 1 on a host: takes release `id` into the releases folder without
 * switching to it, from a tar stream of the folder `id` (what `tar -C
 * RELEASES -cf - ID` writes), and tries it in a trial worker. Already there:
 * the stream is ignored and the release tried again. From then on this
 * host's workers serve the release's assets (the asset fallback) though they
 * still render pages of the current one.
 */
export async function receiveRelease(settings: Settings, id: string, input: Readable | undefined, report: Reporter): Promise<Release> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id)) throw errors.usage(`not a release id: ${id}`);
  return withReleasesLock(settings, async () => {
    const paths = releasePaths(settings);
    const dir = path.join(paths.releasesDir, id);
    if (await stat(path.join(dir, 'build.json')).catch(() => undefined)) {
      input?.resume();
      report.done(`release ${id} is already on host ${settings.hostName}`);
    } else {
      if (!input) throw errors.usage(`release ${id} is not on host ${settings.hostName}, and none was sent`, 'Send it as a tar of its folder on stdin (deploy --hosts does).');
      const receiving = path.join(paths.releasesDir, `.receiving-${randomBytes(4).toString('hex')}`);
      try {
        await mkdir(receiving, { recursive: true });
        await untar(input, receiving);
        const info = await readBuildInfo(path.join(receiving, id)).catch(() => undefined);
        if (info?.id !== id) throw errors.usage(`what was sent is not release ${id} (no ${id}/build.json naming it)`);
        await rename(path.join(receiving, id), dir);
      } finally {
        await rm(receiving, { recursive: true, force: true });
      }
      report.done(`received release ${id} on host ${settings.hostName}`);
    }
    const release = (await listReleases(paths)).find((candidate) => candidate.id === id);
    if (!release) throw errors.usage(`release ${id} is not readable on host ${settings.hostName}`);
    // Kept when it fails here: it is the same build every host got, and the operator wants to see it.
    await trial(settings, release, report, false);
    return release;
  });
}

/**
 * Phase 2 on a host: out of the proxy's rotation (its health path answers
 * 503), PROXY_DRAIN_MS for a proxy that polls it to notice, then the switch
 * and the reload worker by worker (which waits until every worker serves
 * the release), then back in rotation. Back in rotation whatever happened:
 * a failed reload has already switched back to the previous release, which
 * serves.
 */
export async function switchHostTo(settings: Settings, id: string, report: Reporter): Promise<DeployResult> {
  if (settings.siteDir !== settings.currentLink) throw errors.siteDirOverridden(settings.siteDir);
  return withReleasesLock(settings, async () => {
    const paths = releasePaths(settings);
    const release = (await listReleases(paths)).find((candidate) => candidate.id === id);
    if (!release) throw errors.usage(`release ${id} is not on host ${settings.hostName}`, 'Run deploy --receive on it first (deploy --hosts does both).');
    await takeOutOfRotation(settings.logsDir, `deploy --release ${id}`);
    report.done(`host ${settings.hostName} is out of rotation (${settings.healthPath} answers 503)`);
    try {
      if (settings.proxyDrainMs > 0) {
        report.step(`waiting ${settings.proxyDrainMs} ms for the proxy to move new requests to the other hosts`);
        await new Promise((resolve) => setTimeout(resolve, settings.proxyDrainMs));
      }
      // A release that served before (a rollback) is kept whatever happens; a new one that fails is kept too: other hosts may serve it.
      return await switchTo(settings, release, { reload: true, keepOnFailure: true }, report);
    } finally {
      await putBackInRotation(settings.logsDir);
      report.done(`host ${settings.hostName} is back in rotation`);
    }
  });
}

/** The id of this host's current or previous release, for `deploy --rollback --hosts` (every host goes back to the same one). */
export async function releaseId(settings: Settings, which: 'current' | 'previous'): Promise<string | undefined> {
  const paths = releasePaths(settings);
  return (which === 'current' ? await currentRelease(paths) : await previousRelease(paths))?.id;
}

function untar(input: Readable, into: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-x', '-f', '-', '-C', into, '--no-same-owner'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    tar.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    input.pipe(tar.stdin);
    tar.once('error', reject);
    tar.once('close', (code) => (code === 0 ? resolve() : reject(errors.usage(`tar could not unpack the release sent: ${stderr.trim() || `exit code ${code}`}`))));
  });
}
