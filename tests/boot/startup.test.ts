import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { renderUnit } from 'astro-cluster-kit/boot';
import { isAlive } from 'astro-cluster-kit/core';
import { status } from '../helpers/agents.js';
import { request } from '../helpers/http.js';
import { exec, kitProcesses, repoRoot, TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

// The boot unit: rendered with stable paths, accepted by systemd-analyze, and a
// reboot simulated by killing everything and running the unit's commands by hand.
let kit: TestKit;
let unitFile: string;
const asRoot = process.getuid?.() === 0 ? ['--allow-root'] : [];

before(async () => {
  kit = await TestKit.create({ instances: 2 });
  unitFile = path.join(kit.dir, 'units', 'astro-kit-astro-web.service');
});

after(async () => {
  await kit.cleanup();
});

test('the unit has stable paths: the project\'s node_modules/.bin/astro-cluster, the Node binary, a fixed PATH', () => {
  const unit = renderUnit({
    name: 'astro-kit-web',
    mode: 'system',
    root: '/srv/kit',
    node: '/opt/node-20/bin/node',
    user: 'www',
    pm2Home: '/home/www/.pm2',
    environmentFile: '/srv/kit/logs/run/astro-kit-web.env',
  });
  assert.match(unit, /^ExecStart=\/srv\/kit\/node_modules\/.bin\/astro-cluster startup boot$/m);
  assert.match(unit, /^ExecStop=\/srv\/kit\/node_modules\/.bin\/astro-cluster startup halt$/m);
  assert.match(unit, /^Environment=ASTRO_CLUSTER_ROOT=\/srv\/kit$/m);
  assert.match(unit, /^Environment=PATH=\/opt\/node-20\/bin:\/usr\/local\/sbin:\/usr\/local\/bin:\/usr\/sbin:\/usr\/bin:\/sbin:\/bin$/m);
  assert.match(unit, /^Environment=PM2_HOME=\/home\/www\/.pm2$/m);
  assert.match(unit, /^PIDFile=\/home\/www\/.pm2\/pm2.pid$/m);
  assert.match(unit, /^User=www$/m);
  assert.match(unit, /^EnvironmentFile=\/srv\/kit\/logs\/run\/astro-kit-web.env$/m);
  assert.match(unit, /^WantedBy=multi-user.target$/m);
  const user = renderUnit({ name: 'k', mode: 'user', root: '/k', node: '/usr/bin/node', user: 'x', pm2Home: '/h', environmentFile: '/e' });
  assert.doesNotMatch(user, /^User=/m);
  assert.match(user, /^WantedBy=default.target$/m);
});

test('bin/startup install writes a unit systemd-analyze accepts, with no path inside node_modules/.pnpm', { timeout: 120_000 }, async () => {
  const started = await kit.run('start-pm2');
  assert.equal(started.code, 0, started.output);
  // These tests run as root: the unit may run as root only when asked for.
  const installed = await kit.run('startup', ['install', '--dir', path.dirname(unitFile), ...asRoot]);
  assert.equal(installed.code, 0, installed.output);
  assert.match(installed.stdout, /systemd is not running here \(it is not PID 1\), so the unit was not enabled\. Where it runs: systemctl daemon-reload && systemctl enable --now astro-kit-astro-web/);
  const unit = readFileSync(unitFile, 'utf8');
  assert.doesNotMatch(unit, /node_modules\/\.pnpm/);
  assert.match(unit, new RegExp(`^ExecStart=${repoRoot}/node_modules/.bin/astro-cluster startup boot$`, 'm'));
  assert.match(unit, new RegExp(`^Environment=PM2_HOME=${kit.env.PM2_HOME}$`, 'm'));
  const envFile = unit.match(/^EnvironmentFile=(.*)$/m)![1]!;
  assert.equal(statSync(envFile).mode & 0o777, 0o600, 'the settings file is private');
  const settings = readFileSync(envFile, 'utf8');
  assert.match(settings, new RegExp(`^PORT="${kit.port}"$`, 'm'));
  assert.match(settings, new RegExp(`^LOGS_DIR="${kit.logsDir}"$`, 'm'));
  const show = await kit.run('startup', ['show', '--dir', path.dirname(unitFile), ...asRoot]);
  assert.equal(show.stdout, unit);

  const verify = await promisify(execFile)('systemd-analyze', ['verify', unitFile]).then(
    (result) => ({ code: 0, output: `${result.stdout}${result.stderr}` }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, output: `${error.stdout}${error.stderr}` }),
  );
  assert.equal(verify.code, 0, verify.output);
  assert.doesNotMatch(verify.output, /astro-kit/, 'no complaint about the unit');
});

test('as root, install refuses to write User=root unless --allow-root; under sudo the unit runs as the sudo user', { timeout: 60_000 }, async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root');
  const dir = path.join(kit.dir, 'refused-units');
  const refused = await kit.run('startup', ['install', '--dir', dir], { SUDO_USER: '' });
  assert.equal(refused.code, 1, refused.output);
  assert.match(refused.stderr, /User=root/);
  assert.match(refused.stderr, /--user-name NAME/);
  assert.match(refused.stderr, /--allow-root/);
  assert.match(refused.stderr, /KIT_STARTUP_AS_ROOT/);
  assert.ok(!existsSync(path.join(dir, 'astro-kit-astro-web.service')), 'nothing written');

  const underSudo = await kit.run('startup', ['show'], { SUDO_USER: 'nobody' });
  assert.equal(underSudo.code, 0, underSudo.output);
  assert.match(underSudo.stdout, /^User=nobody$/m);
  const named = await kit.run('startup', ['show', '--user-name', 'nobody'], { SUDO_USER: '' });
  assert.match(named.stdout, /^User=nobody$/m);
  const root = await kit.run('startup', ['show', '--user-name', 'root'], { SUDO_USER: 'nobody' });
  assert.match(root.stderr, /KIT_STARTUP_AS_ROOT/);
});

/** Runs one of the unit's commands the way systemd would: only the unit's environment, from its working directory. */
async function runUnitCommand(key: 'ExecStart' | 'ExecStop') {
  const unit = readFileSync(unitFile, 'utf8');
  const env: NodeJS.ProcessEnv = { HOME: process.env.HOME };
  for (const [, assignment] of unit.matchAll(/^Environment=(.*)$/gm)) {
    const eq = assignment!.indexOf('=');
    env[assignment!.slice(0, eq)] = assignment!.slice(eq + 1);
  }
  for (const line of readFileSync(unit.match(/^EnvironmentFile=(.*)$/m)![1]!, 'utf8').split('\n')) {
    const match = /^([A-Z_]+)="(.*)"$/.exec(line);
    if (match) env[match[1]!] = match[2]!.replace(/\\(["\\])/g, '$1');
  }
  const [file, ...args] = unit.match(new RegExp(`^${key}=(.*)$`, 'm'))![1]!.split(' ');
  return exec(file!, args, env, 180_000);
}

/** A power cut: every process of this kit, and its PM2 daemon, killed at once. */
async function powerCut(): Promise<void> {
  const daemon = kit.daemonPid();
  const pids = [...kitProcesses(kit.logsDir), ...(daemon ? [daemon] : [])];
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  await waitFor('everything dead', () => pids.every((pid) => !isAlive(pid)));
}

async function webHealthy(): Promise<boolean> {
  return (await request(`${kit.url}/healthz`).catch(() => ({ status: 0 }))).status === 200;
}

test('after a power cut, the unit\'s start brings back the web cluster and the agents, healthy', { timeout: 180_000 }, async () => {
  await powerCut();
  assert.equal(await webHealthy(), false);
  const booted = await runUnitCommand('ExecStart');
  assert.equal(booted.code, 0, booted.output);
  assert.match(booted.stdout, /booted: 2 web worker\(s\), agents: scheduler-service, audio-organizer, task-runner, pm2-monitor/);
  assert.equal(await webHealthy(), true);
  assert.equal((await kit.onlineWorkers(2)).length, 2);
  const agents = await status(kit);
  assert.ok(agents.agents.every((agent) => agent.state === 'running'), JSON.stringify(agents.agents));
  assert.equal(Number(readFileSync(path.join(kit.env.PM2_HOME as string, 'pm2.pid'), 'utf8')), kit.daemonPid(), 'the PIDFile names the daemon');
});

test('the unit\'s stop stops both; its next start brings both back', { timeout: 180_000 }, async () => {
  const stopped = await runUnitCommand('ExecStop');
  assert.equal(stopped.code, 0, stopped.output);
  assert.ok((await status(kit)).agents.every((agent) => agent.state === 'stopped'));
  // Then systemd sends SIGTERM to the main process (KillMode=mixed): the PM2 daemon.
  const daemon = kit.daemonPid()!;
  process.kill(daemon, 'SIGTERM');
  await waitFor('the daemon to exit', () => !isAlive(daemon));
  assert.equal(await webHealthy(), false);
  assert.deepEqual(kitProcesses(kit.logsDir), [], 'nothing of the kit runs');

  const booted = await runUnitCommand('ExecStart');
  assert.equal(booted.code, 0, booted.output);
  assert.equal(await webHealthy(), true);
  assert.ok((await status(kit)).agents.every((agent) => agent.state === 'running'));
});

test('after bin/stop-pm2, a reboot brings nothing back', { timeout: 180_000 }, async () => {
  const stopped = await kit.run('stop-pm2');
  assert.equal(stopped.code, 0, stopped.output);
  await powerCut();
  const booted = await runUnitCommand('ExecStart');
  assert.equal(booted.code, 0, booted.output);
  assert.match(booted.stdout, /booted: 0 web worker\(s\), agents: none/);
  assert.deepEqual(await kit.workers(), []);
  assert.equal(await webHealthy(), false);
  assert.ok((await status(kit)).agents.every((agent) => agent.state === 'stopped'));
});
