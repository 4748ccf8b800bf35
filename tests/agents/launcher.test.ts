import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { commandText, launcherStatus, readLauncher, runLauncher } from 'astro-cluster-kit/agents';
import { isAlive, KitError, readSettings } from 'astro-cluster-kit/core';
import { getJson, request } from '../helpers/http.js';
import { exec, repoRoot, TestKit, type CommandResult } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

// A project that keeps its own agents launcher (bin/mh, with its own lock
// files in logs/run/locks) and adopts the kit: the kit runs the launcher's
// commands around the web cluster, keeps its own locks elsewhere
// (logs/run/kit-locks), and never kills anything by name or pattern.

const kitCommand = path.join(repoRoot, 'node_modules', '.bin', 'astro-cluster');
/** The reference site's current release, served as it is: these tests never build. */
const siteDir = path.join(repoRoot, '.astro-cluster', 'current');
const agentsPage = path.join(repoRoot, 'apps', 'site', 'src', 'pages', 'agents.astro');

/** The project's own launcher: starts, stops and reports two agents, each under a lock file of its own (O_EXCL). */
const mh = String.raw`#!/usr/bin/env bash
root=$(cd -- "$(dirname -- "$0")/.." && pwd)
locks="$root/logs/run/locks"
wrote="$root/mh-wrote"
mkdir -p "$locks" "$root/logs/agents" "$wrote"

lock_pid() { [ -f "$locks/$1.lock" ] && tr -dc '0-9' < "$locks/$1.lock"; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

start_one() {
  local name=$1 pid
  pid=$(lock_pid "$name")
  if alive "$pid"; then echo "$name already running (pid $pid)"; return 0; fi
  rm -f -- "$locks/$name.lock"
  setsid nohup "$root/agents/run.sh" "$name" </dev/null >/dev/null 2>&1 &
  pid=$!
  if ! (set -C; printf '{"pid": %d}
' "$pid" > "$locks/$name.lock") 2>/dev/null; then
    kill "$pid"; echo "$name: its lock was taken meanwhile" >&2; return 1
  fi
  cp -- "$locks/$name.lock" "$wrote/$name.lock"
  echo "started $name (pid $pid)"
}

stop_one() {
  local name=$1 pid
  pid=$(lock_pid "$name")
  if alive "$pid"; then
    kill "$pid"
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -9 "$pid"
    echo "stopped $name (pid $pid)"
  fi
  rm -f -- "$locks/$name.lock"
}

status_json() {
  local sep='' name pid running
  printf '{"agents":['
  for name in alpha beta; do
    pid=$(lock_pid "$name"); running=false
    alive "$pid" && running=true
    [ -n "$pid" ] || pid=null
    printf '%s{"name":"%s","pid":%s,"running":%s}' "$sep" "$name" "$pid" "$running"
    sep=','
  done
  printf ']}
'
}

case "$*" in
  "start --restart") for n in alpha beta; do stop_one "$n"; done; for n in alpha beta; do start_one "$n" || exit 1; done ;;
  "start") for n in alpha beta; do start_one "$n" || exit 1; done ;;
  "agent stop --all") for n in alpha beta; do stop_one "$n"; done ;;
  "status --json") echo "mh: the agents"; status_json ;;
  *) echo "usage: mh start [--restart] | agent stop --all | status --json" >&2; exit 2 ;;
esac
`;

/** One agent: a heartbeat line every 0.2 s, until SIGTERM. */
const runAgent = String.raw`#!/usr/bin/env bash
name=$1
out="$(cd -- "$(dirname -- "$0")/.." && pwd)/logs/agents/$name.out"
trap 'exit 0' TERM
while :; do echo "$(date +%s.%N) $name heartbeat" >> "$out"; sleep 0.2; done
`;

const launcher = { start: './bin/mh start --restart', stop: './bin/mh agent stop --all', status: './bin/mh status --json' };

let kit: TestKit;
let project: string;
let decoy: number | undefined;

/** The project's config: the launcher's commands; its site points at the reference app, whose build is served as it is. */
async function writeConfig(agents: unknown): Promise<void> {
  const config = { site: { dir: path.join(repoRoot, 'apps', 'site') }, agents };
  await writeFile(path.join(project, 'astro-cluster.config.json'), `${JSON.stringify(config, null, 2)}\n`);
}

function kitRun(command: string, args: string[] = []): Promise<CommandResult> {
  return exec(kitCommand, ['--root', project, command, ...args], kit.env, 180_000);
}

const locksDir = () => path.join(project, 'logs', 'run', 'locks');
const lockPid = (name: string) => (JSON.parse(readFileSync(path.join(locksDir(), `${name}.lock`), 'utf8')) as { pid: number }).pid;

/** Waits until `count` different workers answered /healthz; returns their pids. */
async function healthyWorkers(count: number): Promise<Set<number>> {
  const pids = new Set<number>();
  return waitFor(`${count} workers answering /healthz`, async () => {
    const health = await getJson<{ pid: number }>(`${kit.url}/healthz`);
    pids.add(health.pid);
    return pids.size >= count ? pids : undefined;
  });
}

before(async () => {
  assert.ok(existsSync(path.join(siteDir, 'server', 'entry.mjs')), `a built reference release is needed in ${siteDir} (pnpm test builds it first)`);
  kit = await TestKit.create({ instances: 2 });
  project = path.join(kit.dir, 'project');
  // The launcher and the kit share the logs folder: the collision the kit must avoid.
  Object.assign(kit.env, { ASTRO_CLUSTER_ROOT: project, LOGS_DIR: path.join(project, 'logs'), SITE_DIR: siteDir });
  await mkdir(path.join(project, 'bin'), { recursive: true });
  await mkdir(path.join(project, 'agents'), { recursive: true });
  await writeFile(path.join(project, 'bin', 'mh'), mh);
  await writeFile(path.join(project, 'agents', 'run.sh'), runAgent);
  await chmod(path.join(project, 'bin', 'mh'), 0o755);
  await chmod(path.join(project, 'agents', 'run.sh'), 0o755);
  await writeFile(path.join(project, 'package.json'), '{ "name": "project", "private": true }\n');
  // PM2 loads the ecosystem file with require(): the kit, by its path (this project has no node_modules).
  await writeFile(
    path.join(project, 'ecosystem.config.js'),
    `module.exports = require(${JSON.stringify(path.join(repoRoot, 'packages', 'kit', 'dist', 'core', 'ecosystem.cjs'))}).ecosystem(__dirname);\n`,
  );
  await writeConfig({ launcher });
});

after(async () => {
  if (decoy !== undefined && isAlive(decoy)) process.kill(decoy, 'SIGKILL');
  await kit?.cleanup();
});

test('start runs the launcher, then the web cluster; the launcher keeps its own locks untouched', { timeout: 180_000 }, async () => {
  const result = await kitRun('start');
  assert.equal(result.code, 0, result.output);
  assert.ok(result.stdout.includes('started alpha') && result.stdout.indexOf('started alpha') < result.stdout.indexOf('starting 2 web worker(s)'), `the launcher first:\n${result.stdout}`);

  // Only mh's lock files are in mh's folder, byte for byte what mh wrote, each naming a live agent.
  assert.deepEqual(readdirSync(locksDir()).sort(), ['alpha.lock', 'beta.lock']);
  for (const name of ['alpha', 'beta']) {
    assert.deepEqual(readFileSync(path.join(locksDir(), `${name}.lock`)), readFileSync(path.join(project, 'mh-wrote', `${name}.lock`)));
    assert.ok(isAlive(lockPid(name)), `${name} runs`);
  }
  await waitFor('heartbeats of both agents', () => ['alpha', 'beta'].every((name) => existsSync(path.join(project, 'logs', 'agents', `${name}.out`))));

  const workers = await kit.onlineWorkers(2);
  assert.deepEqual([...(await healthyWorkers(2))].sort(), workers.map((w) => w.pid).sort());
});

test('status shows what the launcher says; so does the agents page, in a build that has it', { timeout: 60_000 }, async (t) => {
  const result = await kitRun('status', ['--json']);
  assert.equal(result.code, 0, result.output);
  const status = JSON.parse(result.stdout) as { healthy: boolean; launcher?: { ok: boolean; command: string; status: { agents: { name: string; pid: number; running: boolean }[] } } };
  assert.equal(status.healthy, true, result.stdout);
  assert.equal(status.launcher?.ok, true, result.stdout);
  assert.equal(status.launcher?.command, launcher.status);
  assert.deepEqual(status.launcher?.status.agents, [
    { name: 'alpha', pid: lockPid('alpha'), running: true },
    { name: 'beta', pid: lockPid('beta'), running: true },
  ]);

  // The page is part of the reference site's build, which this test serves as it is and never rebuilds: a
  // release built before agents.astro learned the Launcher section cannot show it, so the page is checked
  // only in a release built after the page's last change (pnpm test rebuilds the release when sources change).
  const builtAt = Date.parse((JSON.parse(readFileSync(path.join(siteDir, 'build.json'), 'utf8')) as { builtAt: string }).builtAt);
  if (!(builtAt > statSync(agentsPage).mtimeMs)) {
    t.diagnostic(`the agents page is not checked: the release in ${siteDir} was built before agents.astro last changed`);
    return;
  }
  const page = await request(`${kit.url}/agents`, { headers: kit.auth() });
  assert.equal(page.status, 200);
  assert.match(page.body, /<h2>Launcher<\/h2>/);
  const pre = /<pre data-state="ok">([\s\S]*?)<\/pre>/.exec(page.body)?.[1];
  assert.ok(pre, page.body);
  const shown = JSON.parse(pre.replaceAll('&quot;', '"').replaceAll('&#34;', '"').replaceAll('&amp;', '&')) as { agents: { name: string; pid: number }[] };
  assert.deepEqual(shown.agents.map((agent) => [agent.name, agent.pid]), [['alpha', lockPid('alpha')], ['beta', lockPid('beta')]]);
  t.diagnostic('the agents page shows the launcher\'s status');
});

test('stop runs the launcher\'s stop: its agents go, a look-alike process stays, no worker of the kit is left', { timeout: 120_000 }, async () => {
  const agents = ['alpha', 'beta'].map(lockPid);
  // Looks like an agent to anything matching command lines (its argv is "agents/run.sh alpha"); it is not one.
  const child = spawn('bash', ['-c', 'exec -a "agents/run.sh alpha" sleep 300'], { detached: true, stdio: 'ignore' });
  child.unref();
  decoy = child.pid;
  assert.ok(decoy);
  await waitFor('the decoy to look like an agent', () => readFileSync(`/proc/${decoy}/cmdline`, 'utf8').startsWith('agents/run.sh alpha'));

  const result = await kitRun('stop');
  assert.equal(result.code, 0, result.output);
  assert.match(result.stdout, /stopped astro-web: 2 worker\(s\)[\s\S]*stopped alpha[\s\S]*stopped beta/);
  for (const pid of agents) assert.ok(!isAlive(pid), `agent pid ${pid} stopped`);
  assert.deepEqual(readdirSync(locksDir()), [], "mh removed its lock files");
  assert.ok(isAlive(decoy), 'the look-alike was not touched');
  assert.deepEqual(await kit.workers(), []);
});

test('a launcher whose start fails: the web cluster starts anyway, and start exits 1 naming it', { timeout: 180_000 }, async () => {
  await writeConfig({ launcher: { ...launcher, start: "echo 'mh: starting alpha'; echo 'mh: alpha cannot start: its port is taken' >&2; exit 1" } });
  const result = await kitRun('start');
  assert.equal(result.code, 1, result.output);
  assert.match(result.stdout, /launcher did not start the agents: it exited with code 1[\s\S]*alpha cannot start: its port is taken/);
  assert.match(result.stderr, /KIT_AGENTS_NOT_STARTED/);
  assert.match(result.stderr, /launcher/);
  const workers = await kit.onlineWorkers(2);
  assert.deepEqual([...(await healthyWorkers(2))].sort(), workers.map((w) => w.pid).sort());

  const stopped = await kitRun('stop');
  assert.equal(stopped.code, 0, stopped.output);
  assert.deepEqual(await kit.workers(), []);
});

test('a launcher command of the wrong shape is refused, naming the field', { timeout: 60_000 }, async () => {
  await writeConfig({ launcher: { start: 5 } });
  const result = await kitRun('start');
  assert.notEqual(result.code, 0, result.output);
  assert.match(result.stderr, /agents\.launcher\.start: expected a command \(a string or an array of strings\)/);
  assert.match(result.stderr, /agents\.launcher\.stop: expected a command/);
  assert.match(result.stderr, /KIT_AGENTS_CONFIG_INVALID/);
  assert.deepEqual(await kit.workers(), [], 'nothing was started');
});

// The launcher's commands themselves, without the web cluster: each form, and the ways a command goes wrong.
interface Lines {
  lines: string[];
  report: { step(text: string): void; progress(text: string): void; done(text: string): void; warn(text: string): void; output(line: string): void };
}

function collector(): Lines {
  const lines: string[] = [];
  const add = (text: string) => void lines.push(text);
  return { lines, report: { step: add, progress: add, done: add, warn: add, output: add } };
}

/** A project of its own with `launcher` as agents.launcher, and its settings. */
async function launcherProject(name: string, value: unknown, files: Record<string, string> = {}) {
  const root = path.join(kit.dir, name);
  await mkdir(root, { recursive: true });
  await writeFile(path.join(root, 'astro-cluster.config.json'), JSON.stringify({ agents: { launcher: value } }));
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), content, { mode: 0o755 });
  }
  const settings = readSettings({ ASTRO_CLUSTER_ROOT: root, LOGS_DIR: path.join(root, 'logs'), PATH: process.env.PATH ?? '' });
  return { root, settings };
}

test('an argv command is run directly, found in node_modules/.bin first, in the project root; its output is shown line by line', { timeout: 60_000 }, async () => {
  const tool = '#!/bin/sh\necho "fake-mh $* in $(pwd)"\necho "second line" >&2\n';
  const { root, settings } = await launcherProject('argv', { start: ['fake-mh', 'start', 'two words'], stop: ['fake-mh', 'stop'] }, { 'node_modules/.bin/fake-mh': tool });
  const launcher = readLauncher(settings);
  assert.ok(launcher);
  const { lines, report } = collector();
  const run = await runLauncher(settings, launcher, 'start', report);
  assert.deepEqual({ ok: run.ok, code: run.code }, { ok: true, code: 0 }, run.output);
  assert.ok(lines.includes(`fake-mh start two words in ${root}`), lines.join('\n'));
  assert.ok(lines.includes('second line'), lines.join('\n'));
  assert.equal(commandText(launcher.start), "fake-mh start 'two words'");

  const missing = await runLauncher(settings, { start: ['no-such-launcher-here'], stop: ['x'] }, 'start', collector().report);
  assert.equal(missing.ok, false);
  assert.equal(missing.code, null);
  assert.match(missing.error ?? '', /could not run it: .*ENOENT/);
});

test('start returns once the launcher exits, though what it started in the background keeps its output; one that hangs is stopped', { timeout: 60_000 }, async () => {
  // `exec`: the command's own process is the one that hangs (the kit stops its child only, by pid, never what that started).
  const { settings } = await launcherProject('background', { start: 'sleep 300 & echo "started pid $!"', stop: 'exec sleep 300' });
  const launcher = readLauncher(settings)!;
  const run = await runLauncher(settings, launcher, 'start', collector().report);
  const pid = Number(/started pid (\d+)/.exec(run.output)?.[1]);
  try {
    assert.equal(run.ok, true, run.output);
    assert.ok(isAlive(pid), 'the background process runs on');
  } finally {
    if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGKILL');
  }

  const hung = await runLauncher(settings, launcher, 'stop', collector().report, { timeoutMs: 500 });
  assert.deepEqual({ ok: hung.ok, code: hung.code }, { ok: false, code: null });
  assert.match(hung.error ?? '', /timed out after 0\.5 s/);
});

test('status takes the first JSON value on stdout; a failing status command, or one without JSON, is an error', { timeout: 60_000 }, async () => {
  const { settings } = await launcherProject('status', { start: 'true', stop: 'true', status: 'echo "agents:"; echo \'{"agents": [{"name": "a}"}]} trailing\'; echo done' });
  const ok = await launcherStatus(settings, readLauncher(settings)!);
  assert.deepEqual(ok, { command: ok.command, ok: true, status: { agents: [{ name: 'a}' }] } });

  const failing = await launcherStatus(settings, { start: 'true', stop: 'true', status: ['sh', '-c', 'echo "no daemon" >&2; exit 3'] });
  assert.deepEqual(failing, { command: "sh -c 'echo \"no daemon\" >&2; exit 3'", ok: false, error: 'exited with code 3:\nno daemon' });
  const silent = await launcherStatus(settings, { start: 'true', stop: 'true', status: 'echo all fine' });
  assert.equal(silent.ok, false);
  assert.match(silent.ok ? '' : silent.error, /printed no JSON/);
});

test('bad shapes of agents.launcher are refused, each field named', async () => {
  for (const [value, pattern] of [
    ['./bin/mh start', /agents\.launcher: expected an object/],
    [{ start: 'x' }, /agents\.launcher\.stop: expected a command \(a string or an array of strings\)/],
    [{ start: [], stop: 'x' }, /agents\.launcher\.start: expected a command/],
    [{ start: ['x', 1], stop: 'x' }, /agents\.launcher\.start: expected a command/],
    [{ start: 'x', stop: '  ' }, /agents\.launcher\.stop: expected a command/],
    [{ start: 'x', stop: 'x', status: null }, /agents\.launcher\.status: expected a command/],
    [{ start: 'x', stop: 'x', restart: 'x' }, /agents\.launcher\.restart: not a field \(known: start, stop, status\)/],
  ] as const) {
    const { settings } = await launcherProject('shapes', value);
    assert.throws(() => readLauncher(settings), (error: unknown) => error instanceof KitError && error.code === 'KIT_AGENTS_CONFIG_INVALID' && pattern.test(error.message));
  }
  assert.equal(readLauncher(readSettings({ ASTRO_CLUSTER_ROOT: kit.dir })), undefined, 'no launcher: none');
});
