import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { FileEventLog } from 'astro-cluster-kit/event-log';
import { launchChromium, signInOperator } from '../helpers/browser.js';
import { operatorPassword, repoRoot, TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

// bin/status and the pm2-monitor agent against a real cluster and a deliberately failing app.
let kit: TestKit;
let browser: Browser | undefined;

interface StatusJson {
  healthy: boolean;
  problems: string[];
  web: { workers: { pid: number; status: string; build?: string }[]; expected: number; build: string };
  circuits: { app: string }[];
  versions: Record<string, string>;
}

before(async () => {
  kit = await TestKit.create({
    instances: 2,
    env: { MONITOR_APPS: 'astro-web,crasher', MONITOR_CRASH_LIMIT: '3', MONITOR_SNAPSHOT_MS: '300' },
  });
});

after(async () => {
  await browser?.close();
  await kit.cleanup();
});

async function status(): Promise<{ code: number; json: StatusJson }> {
  const result = await kit.run('status', ['--json']);
  return { code: result.code, json: JSON.parse(result.stdout) as StatusJson };
}

function monitorState(): { apps: Record<string, { restarts: number; exceptions: { message: string }[]; circuit: { state: string } }> } {
  return JSON.parse(readFileSync(path.join(kit.logsDir, 'run', 'monitor.json'), 'utf8'));
}

test('bin/status: not healthy before the kit runs, healthy once it does, with every worker on the current build', { timeout: 180_000 }, async () => {
  const before = await kit.run('status');
  assert.equal(before.code, 1);
  assert.match(before.stdout, /✗ not healthy/);
  assert.match(before.stdout, /no PM2 daemon runs for PM2_HOME/);

  const started = await kit.run('start-pm2');
  assert.equal(started.code, 0, started.output);
  const { code, json } = await status();
  assert.equal(code, 0, json.problems.join('\n'));
  assert.equal(json.healthy, true);
  assert.equal(json.web.workers.length, 2);
  assert.ok(json.web.workers.every((w) => w.status === 'online' && w.build === json.web.build));
  assert.deepEqual(Object.keys(json.versions).sort(), ['astro', 'kit', 'node', 'pm2']);
  const text = await kit.run('status');
  assert.match(text.stdout, /✓ healthy  http:\/\/127\.0\.0\.1:\d+  build \S+/);
  assert.match(text.stdout, /pm2-monitor\s+running/);
});

test('a reload is no crash: the monitor counts no restart for it', { timeout: 120_000 }, async () => {
  const before = new Set((await kit.onlineWorkers(2)).map((w) => w.pid));
  assert.equal((await kit.pm2(['reload', path.join(repoRoot, 'ecosystem.config.js')])).code, 0);
  await kit.onlineWorkers(2, before);
  await waitFor('a monitor snapshot after the reload', () => Date.parse(JSON.parse(readFileSync(path.join(kit.logsDir, 'run', 'monitor.json'), 'utf8')).updatedAt) > Date.now() - 200);
  assert.equal(monitorState().apps['astro-web']?.restarts ?? 0, 0);
});

test('a crash-looping app is stopped (circuit open) and reported; a reset starts it again', { timeout: 180_000 }, async () => {
  const flag = path.join(kit.dir, 'database-is-up');
  const crasher = path.join(kit.dir, 'crasher.js');
  writeFileSync(
    crasher,
    `setTimeout(() => { if (!require('fs').existsSync(${JSON.stringify(flag)})) throw new Error('crasher cannot start: database unreachable'); }, 100);\nsetInterval(() => {}, 1000);\n`,
  );
  const started = await kit.pm2(['start', crasher, '--name', 'crasher', '--restart-delay', '200']);
  assert.equal(started.code, 0, started.output);

  await waitFor('the circuit to open', () => monitorState().apps.crasher?.circuit.state === 'open', { timeoutMs: 60_000 });
  const crasherEntry = async () => (await kit.list()).find((entry) => entry.name === 'crasher')!;
  await waitFor('PM2 to show it stopped', async () => (await crasherEntry()).pm2_env.status === 'stopped');
  const restarts = (await crasherEntry()).pm2_env.restart_time;
  assert.ok(monitorState().apps.crasher!.exceptions.some((e) => /database unreachable/.test(e.message)), 'its exception is recorded');

  const unhealthy = await status();
  assert.equal(unhealthy.code, 1);
  assert.deepEqual(unhealthy.json.circuits.map((c) => c.app), ['crasher']);
  assert.ok(unhealthy.json.problems.some((p) => /crasher was stopped for crash-looping .*bin\/status --reset crasher/.test(p)));
  // The monitor reports the open circuit once PM2 has stopped every process of the app.
  const events = new FileEventLog(path.join(kit.logsDir, 'run', 'events'), { count: 100_000, maxAgeMs: 86_400_000 });
  const audit = async () => (await events.latest('audit', 500)).map((e) => e.data as { source: string; kind: string; message: string });
  await waitFor('the circuit-open audit entry', async () =>
    (await audit()).some((e) => e.source === 'pm2-monitor' && e.kind === 'circuit-open' && /crasher keeps crashing/.test(e.message)),
  );
  assert.ok((await audit()).some((e) => e.source === 'pm2-monitor' && e.kind === 'exception' && /database unreachable/.test(e.message)));

  // The ops page shows it live.
  browser = await launchChromium();
  const page = await browser.newPage();
  await signInOperator(page, kit.url, operatorPassword);
  await page.goto(`${kit.url}/ops`);
  await page.waitForSelector('[data-testid="status"]:has-text("live from worker")');
  await page.waitForSelector('[data-app="crasher"][data-circuit="open"]');
  assert.match((await page.textContent('[data-app="crasher"]')) ?? '', /stopped: 3 abnormal exits .*bin\/status --reset crasher/);
  assert.match((await page.textContent('[data-app="crasher"]')) ?? '', /database unreachable/);
  assert.equal(await page.locator('tr[data-worker^="astro-web:"][data-status="online"]').count(), 2);

  // No more restarts while the circuit is open.
  await waitFor('a few more monitor snapshots', async () => (await status()).json.circuits.length === 1);
  assert.equal((await crasherEntry()).pm2_env.restart_time, restarts);

  // The operator fixes the cause and resets.
  writeFileSync(flag, 'yes');
  const reset = await kit.run('status', ['--reset', 'crasher']);
  assert.equal(reset.code, 0, reset.output);
  assert.match(reset.stdout, /reset crasher: the pm2-monitor \(pid \d+\) starts it again/);
  await waitFor('crasher online again', async () => (await crasherEntry()).pm2_env.status === 'online');
  await waitFor('the circuit closed', () => monitorState().apps.crasher?.circuit.state === 'closed');
  await page.waitForSelector('[data-app="crasher"][data-circuit="closed"]');
  const healthy = await status();
  assert.equal(healthy.code, 0, healthy.json.problems.join('\n'));
});

test('a missing worker makes bin/status say so and fail', { timeout: 60_000 }, async () => {
  assert.equal((await kit.pm2(['scale', 'astro-web', '1'])).code, 0);
  await waitFor('one worker left', async () => (await kit.workers()).length === 1);
  const { code, json } = await status();
  assert.equal(code, 1);
  assert.ok(json.problems.includes('1 of 2 web worker(s) exist'), json.problems.join('\n'));
});
