import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isAlive, isZombie } from 'astro-cluster-kit/core';
import { agentScripts, agentKits, agentState, readAgentLog, status } from '../helpers/agents.js';
import { repoRoot } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

// bin/mh against real agent processes, each test in its own LOGS_DIR.
const kit = agentKits();

test('mh start runs every agent under the supervisor; a second start says already running and exits 0', { timeout: 60_000 }, async () => {
  const k = await kit();
  const first = await k.run('mh', ['start']);
  assert.equal(first.code, 0, first.output);
  assert.match(first.stdout, /started the supervisor \(pid \d+\)/);
  const pid = Number(/started scheduler-service \(pid (\d+)\)/.exec(first.stdout)?.[1]);
  assert.ok(pid > 0, first.stdout);
  assert.match(first.stdout, /started audio-organizer \(pid \d+\)/);

  const report = await status(k);
  assert.equal(report.supervisor.state, 'running');
  for (const agent of report.agents) {
    assert.equal(agent.state, 'running', agent.name);
    assert.ok(agent.pid && isAlive(agent.pid));
    assert.ok(agent.since && !Number.isNaN(Date.parse(agent.since)));
    assert.equal(agent.lock, path.join(k.logsDir, 'run', 'kit-locks', `${agent.name}.lock`));
  }
  // The lock is its holder's, which records the agent it started.
  const owner = k.lockOwner('scheduler-service');
  assert.equal(owner?.child?.pid, pid);
  assert.notEqual(owner?.pid, pid);
  assert.ok(owner?.host && owner.startTicks, 'the lock records host and process start time');

  const again = await k.run('mh', ['start', 'scheduler-service']);
  assert.equal(again.code, 0, again.output);
  assert.match(again.stdout, new RegExp(`scheduler-service already running \\(pid ${pid}\\)`));
  assert.deepEqual(k.processesRunning(agentScripts['scheduler-service']), [pid]);

  await waitFor('heartbeats in the log', () => readAgentLog(k, 'scheduler-service').filter((l) => l.text.startsWith('job heartbeat ran')).length >= 2);
  assert.ok(readAgentLog(k, 'scheduler-service').every((line) => (line.pid === pid || line.pid === owner?.pid) && line.at > 0), 'timestamped lines from the one agent and its holder');

  const table = await k.run('mh', ['status']);
  assert.match(table.stdout, /AGENT\s+STATE\s+PID\s+SINCE\s+RESTARTS\s+LOCK/);
  assert.match(table.stdout, new RegExp(`scheduler-service\\s+running\\s+${pid}`));
  assert.equal((await k.run('mh', ['agent', 'status'])).code, 0, 'mh agent … is an alias');
});

test('mh stop --all stops agents and supervisor by their verified pids; a namesake process survives', { timeout: 60_000 }, async () => {
  const k = await kit();
  // Its command line names the agent, and even its script: a pattern kill would take it.
  const namesake = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'scheduler-service', agentScripts['scheduler-service']], { stdio: 'ignore' });
  try {
    assert.equal((await k.run('mh', ['start'])).code, 0);
    const before = await status(k);
    const stopped = await k.run('mh', ['agent', 'stop', '--all']);
    assert.equal(stopped.code, 0, stopped.output);
    for (const agent of before.agents) assert.match(stopped.stdout, new RegExp(`stopped ${agent.name} \\(pid ${agent.pid}\\)`));
    assert.match(stopped.stdout, /stopped the supervisor \(pid \d+\)/);
    for (const pid of [...before.agents.map((a) => a.pid), before.supervisor.pid]) assert.ok(pid && !isAlive(pid), `pid ${pid} still alive`);
    assert.ok(isAlive(namesake.pid!), 'the namesake process still runs');
    const after = await status(k);
    assert.ok(after.agents.every((a) => a.state === 'stopped') && after.supervisor.state === 'stopped');
    assert.ok(!existsSync(path.join(k.logsDir, 'run', 'kit-locks', 'scheduler-service.lock')), 'the lock is released');
    const agentPid = before.agents.find((a) => a.name === 'scheduler-service')!.pid;
    const log = readAgentLog(k, 'scheduler-service').filter((l) => l.pid === agentPid).map((l) => l.text);
    assert.ok(log.includes('SIGTERM: stopping after the current unit of work') && log.at(-1) === 'stopped', log.join('\n'));

    const again = await k.run('mh', ['stop', '--all']);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /scheduler-service was not running/);
  } finally {
    namesake.kill('SIGKILL');
  }
});

test('a pid recorded in a lock but now reused by another process is never signalled', { timeout: 60_000 }, async () => {
  const k = await kit();
  assert.equal((await k.run('mh', ['start', 'scheduler-service'])).code, 0);
  const agentPid = (await agentState(k, 'scheduler-service')).pid!;
  const stranger = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    // Kill the agent so that its lock stays behind, then point the lock at the stranger's pid
    // with the agent's start time: as if the pid had been reused.
    assert.equal((await k.run('mh', ['stop', 'scheduler-service', '--force'])).code, 0);
    await waitFor('the agent to exit', () => !isAlive(agentPid));
    const { mkdirSync, writeFileSync, readFileSync } = await import('node:fs');
    const locks = path.join(k.logsDir, 'run', 'kit-locks');
    const owner = JSON.parse(readFileSync(path.join(locks, 'scheduler-service.owner.json'), 'utf8'));
    writeFileSync(path.join(locks, 'scheduler-service.owner.json'), JSON.stringify({ ...owner, pid: stranger.pid }));
    mkdirSync(path.join(locks, 'scheduler-service.lock'));

    const stopped = await k.run('mh', ['stop', 'scheduler-service']);
    assert.equal(stopped.code, 0, stopped.output);
    assert.match(stopped.stdout, new RegExp(`scheduler-service was not running \\(removed the lock left by pid ${stranger.pid}\\)`), stopped.output);
    assert.ok(isAlive(stranger.pid!), 'the stranger was not signalled');
    assert.ok(!existsSync(path.join(locks, 'scheduler-service.lock')));
  } finally {
    stranger.kill('SIGKILL');
  }
});

test('a stop that SIGTERM cannot end escalates to SIGKILL after --timeout; --force kills at once; the lock is released', { timeout: 60_000 }, async () => {
  const k = await kit();
  assert.equal((await k.run('mh', ['start', 'scheduler-service'])).code, 0);
  const frozen = (await agentState(k, 'scheduler-service')).pid!;
  process.kill(frozen, 'SIGSTOP');
  const slow = await k.run('mh', ['stop', 'scheduler-service', '--timeout', '1']);
  assert.equal(slow.code, 0, slow.output);
  assert.match(slow.stdout, /still running after 1 s: SIGKILL/);
  assert.match(slow.stdout, new RegExp(`killed scheduler-service \\(pid ${frozen}\\)`));
  // Killed along with its holder, it is reaped by whoever adopts it: dead, if perhaps not yet gone from the table.
  await waitFor('the frozen agent to be dead', () => !isAlive(frozen) || isZombie(frozen));
  assert.equal((await agentState(k, 'scheduler-service')).state, 'stopped');

  assert.equal((await k.run('mh', ['start', 'scheduler-service'])).code, 0);
  const next = (await agentState(k, 'scheduler-service')).pid!;
  const forced = await k.run('mh', ['stop', 'scheduler-service', '--force']);
  assert.match(forced.stdout, new RegExp(`killed scheduler-service \\(pid ${next}\\)`));
  assert.ok(!existsSync(path.join(k.logsDir, 'run', 'kit-locks', 'scheduler-service.lock')));
});

test('mh start --restart replaces a running agent with a new process', { timeout: 60_000 }, async () => {
  const k = await kit();
  assert.equal((await k.run('mh', ['start', 'scheduler-service'])).code, 0);
  const before = (await agentState(k, 'scheduler-service')).pid!;
  const restarted = await k.run('mh', ['start', '--restart', 'scheduler-service']);
  assert.equal(restarted.code, 0, restarted.output);
  assert.match(restarted.stdout, new RegExp(`stopped scheduler-service \\(pid ${before}\\)[\\s\\S]*started scheduler-service \\(pid \\d+\\)`));
  const after = (await agentState(k, 'scheduler-service')).pid!;
  assert.notEqual(after, before);
  assert.ok(!isAlive(before));
});

test('mh logs -f follows new lines as the agent writes them', { timeout: 60_000 }, async () => {
  const k = await kit();
  assert.equal((await k.run('mh', ['start', 'scheduler-service'])).code, 0);
  const follower = spawn(path.join(repoRoot, 'bin', 'mh'), ['logs', 'scheduler-service', '-n', '1', '-f'], { env: k.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  follower.stdout.on('data', (chunk: Buffer) => (seen += chunk.toString()));
  try {
    const lines = () => seen.split('\n').filter(Boolean).length;
    await waitFor('the last line, then new ones', () => lines() >= 4);
    assert.match(seen, /job heartbeat ran/);
  } finally {
    follower.kill('SIGINT');
  }
});

test('mh logs shows the last lines; usage errors are clear and exit 2', { timeout: 60_000 }, async () => {
  const k = await kit();
  assert.equal((await k.run('mh', ['start', 'scheduler-service'])).code, 0);
  await waitFor('a few heartbeats', () => readAgentLog(k, 'scheduler-service').length >= 5);
  const logs = await k.run('mh', ['logs', 'scheduler-service', '-n', '3']);
  assert.equal(logs.code, 0);
  assert.equal(logs.stdout.trim().split('\n').length, 3);
  assert.match(logs.stdout, /^\S+Z \[pid \d+\] /);

  for (const [args, pattern] of [
    [[], /which command/],
    [['frobnicate'], /unknown command frobnicate/],
    [['start', 'no-such-agent'], /there is no agent named no-such-agent[\s\S]*Known agents: scheduler-service, audio-organizer, task-runner, pm2-monitor/],
    [['stop'], /name the agents to stop, or use --all/],
    [['stop', '--all', 'scheduler-service'], /not both/],
    [['stop', '--all', '--timeout', 'soon'], /--timeout soon/],
    [['logs'], /name one agent/],
    [['status', '--bogus'], /Unknown option '--bogus'/],
  ] as const) {
    const result = await k.run('mh', [...args]);
    assert.equal(result.code, 2, `mh ${args.join(' ')}: ${result.output}`);
    assert.match(result.stderr, pattern);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  }
  const help = await k.run('mh', ['help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /mh stop NAME… \| --all/);
});
