import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errors, type Reporter, type Settings } from '../core/index.cjs';
import { hostList, webHosts, type HostEntry } from '../hosts/host-list.js';
import { runOnHost } from '../hosts/run-on-host.js';
import { buildTried, withReleasesLock } from './deploy.js';
import { releasePaths } from './site-paths.js';

export interface HostsDeployResult {
  release: string;
  hosts: string[];
}

/**
 * `deploy --hosts`: one release on every host, host by host.
 *
 * Phase 1 puts the release on every host without switching any: built and
 * tried here (or, for a rollback, the release before the first host's
 * current one, already on every host), sent as a tar of its folder and tried
 * on each. From then on every host serves its assets (the asset fallback),
 * so a page rendered by a host already switched loads them from any host.
 *
 * Phase 2 switches one host at a time: out of rotation, switch, reload
 * worker by worker, back in rotation (all on the host: `deploy --release`),
 * then this command checks the host's health path from here before it goes
 * on. A host that fails stops the run; the hosts before it serve the new
 * release, those after it the old one, and both serve both's assets.
 */
export async function deployAcrossHosts(settings: Settings, options: { only: string | undefined; rollback: boolean }, report: Reporter): Promise<HostsDeployResult> {
  const hosts = webHosts(hostList(settings), options.only);
  report.done(`hosts, in order: ${hosts.map((host) => host.name).join(', ')}`);
  const here = (host: HostEntry) => !host.ssh && path.resolve(host.dir) === path.resolve(settings.root);

  let id: string;
  if (options.rollback) {
    const first = hosts[0]!;
    id = await askReleaseId(first, 'previous', report);
    report.done(`rolling back every host to release ${id} (the one before ${first.name}'s current)`);
  } else {
    id = (await withReleasesLock(settings, () => buildTried(settings, report))).id;
  }

  report.step(`phase 1: release ${id} onto every host, without switching`);
  for (const host of hosts) {
    // Built here: this project has it, and tried it already.
    if (!options.rollback && here(host)) continue;
    const tar = options.rollback ? undefined : spawn('tar', ['-C', releasePaths(settings).releasesDir, '-cf', '-', id], { stdio: ['ignore', 'pipe', 'inherit'] });
    const run = await runOnHost(host, ['deploy', '--receive', id], report, tar?.stdout);
    if (run.code !== 0) throw errors.hostStepFailed(host.name, `take release ${id}`, run.tail.join('\n'), 'No host was switched: every host serves what it served.');
  }

  report.step(`phase 2: host by host onto release ${id}`);
  const done: string[] = [];
  for (const host of hosts) {
    const run = await runOnHost(host, ['deploy', '--release', id], report);
    const state = done.length > 0 ? `${done.join(', ')} serve release ${id}; ${hosts.filter((h) => !done.includes(h.name)).map((h) => h.name).join(', ')} do not.` : 'No host was switched.';
    if (run.code !== 0) throw errors.hostStepFailed(host.name, `switch to release ${id}`, run.tail.join('\n'), state);
    await waitHealthy(host, settings.healthPath, id);
    done.push(host.name);
    report.done(`host ${host.name} serves release ${id} and is back in rotation (${done.length} of ${hosts.length})`);
    // A proxy that checks passively (nginx) may have counted the host's 503s as failures: it leaves the host out for
    // fail_timeout. The next host goes out only once this one is surely taken again, so one always serves.
    if (done.length < hosts.length) await sleep(settings.proxyFailTimeoutS * 1000);
  }
  return { release: id, hosts: done };
}

async function askReleaseId(host: HostEntry, which: 'current' | 'previous', report: Reporter): Promise<string> {
  const lines: string[] = [];
  const run = await runOnHost(host, ['deploy', '--show', which], { ...report, output: (line) => lines.push(line) });
  const id = /release (\S+)$/.exec(lines.at(-1) ?? '')?.[1];
  if (run.code !== 0 || !id) throw errors.hostStepFailed(host.name, `name its ${which} release`, run.tail.join('\n'), 'No host was switched.');
  return id;
}

/** From here, as the proxy sees the host: its health path answers (200, or 503 out of rotation) with the release, within 30 s. */
async function waitHealthy(host: HostEntry, healthPath: string, id: string): Promise<void> {
  const url = new URL(healthPath, host.url).toString();
  let last = 'no answer yet';
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(250)) {
    try {
      const { status, body } = await get(url);
      const health = JSON.parse(body) as { status?: string; build?: string };
      if (status === 200 && health.build === id) return;
      last = `${status} ${health.status ?? ''}, build ${health.build}`;
    } catch (error) {
      last = (error as Error).message;
    }
  }
  throw errors.hostUnhealthy(host.name, url, last);
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const client = url.startsWith('https:') ? https : http;
    const req = client.get(url, { agent: false, timeout: 3000, ...(url.startsWith('https:') && { rejectUnauthorized: false }) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 3 s')));
    req.on('error', reject);
  });
}
