import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isAlive, isZombie } from 'astro-cluster-kit/core';
import { agentArgs, agentScripts, agentKits, agentState, readAgentLog, status } from '../helpers/agents.js';
import { exec, repoRoot } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

// The lock semantics of the agents, each with real processes and signals.
const kit = agentKits();

test('five concurrent mh start: exactly one process per agent, and one supervisor', { timeout: 120_000 }, async () => {
  const k = await kit();
  const results = await Promise.all(Array.from({ length: 5 }, () => k.run('mh', ['start'])));
  for (const result of results) assert.equal(result.code, 0, result.output);
  for (const [name, script] of Object.entries(agentScripts)) {
    const pids = await waitFor(`one ${name}`, () => {
      const running = k.processesRunning(script);
      return running.length === 1 ? running : undefined;
    });
    if (name === 'supervisor') continue;
    // Every command reports that same process, as started or as already running.
    for (const result of results) assert.match(result.stdout, new RegExp(`${name} (already running )?\\(pid ${pids[0]}\\)|started ${name} \\(pid ${pids[0]}\\)`));
  }
});

test('after a SIGKILL the next start takes over at once: the recorded pid is dead, no stale window to wait for', { timeout: 120_000 }, async () => {
  // A stale window far longer than the test may wait: only the dead-pid check can free the lock in time.
  const k = await kit({ LOCK_STALE_MS: '120000' });
  assert.equal((await k.run('mh', ['start', 'scheduler-service'])).code, 0);
  const first = (await agentState(k, 'scheduler-service')).pid!;
  // Stop the supervisor first, so that it is `mh start` itself that takes over.
  const supervisor = (await status(k)).supervisor.pid!;
  process.kill(supervisor, 'SIGKILL');
  process.kill(first, 'SIGKILL');
  await waitFor('both to die', () => !isAlive(first) && !isAlive(supervisor));
  assert.equal((await agentState(k, 'scheduler-service')).state, 'stopped');

  const started = await k.run('mh', ['start', 'scheduler-service'], {}, 60_000);
  assert.equal(started.code, 0, started.output);
  const second = (await agentState(k, 'scheduler-service')).pid!;
  assert.notEqual(second, first);
  assert.deepEqual(k.processesRunning(agentScripts['scheduler-service']), [second]);

  // The same holds for an agent run by hand: it takes the lock its dead predecessor left.
  process.kill(second, 'SIGKILL');
  await waitFor('the agent to die', () => !isAlive(second));
  const byHand = exec(process.execPath, agentArgs(agentScripts['audio-organizer']), { ...k.env, AGENT_NAME: 'audio-organizer' }, 60_000);
  await waitFor('the hand-started audio-organizer to hold its lock', async () => (await agentState(k, 'audio-organizer')).state === 'running');
  process.kill((await agentState(k, 'audio-organizer')).pid!, 'SIGTERM');
  assert.equal((await byHand).code, 0);
});

test('a frozen holder loses its lock after the stale window: its command is ended before the replacement starts; resumed, the holder exits', { timeout: 120_000 }, async () => {
  // Agents take longer to start than a supervisor round, as on a loaded machine: the replacement is still starting
  // while the stale lock is the frozen holder's, and must not be taken for frozen itself.
  const slowStart = JSON.stringify(path.join(repoRoot, 'tests', 'fixtures', 'slow-agent-start.cjs'));
  const k = await kit({ LOCK_STALE_MS: '4000', NODE_OPTIONS: `--require ${slowStart}`, SLOW_AGENT_START_MS: '1500' });
  assert.equal((await k.run('mh', ['start', 'scheduler-service'])).code, 0);
  const first = (await agentState(k, 'scheduler-service')).pid!;
  const holder = k.lockOwner('scheduler-service')!.pid;
  await waitFor('a heartbeat of the first agent', () => readAgentLog(k, 'scheduler-service').some((l) => l.pid === first && l.text.startsWith('job heartbeat')));

  // The holder freezes; its agent goes on running, and would go on acting, unless the takeover ends it.
  process.kill(holder, 'SIGSTOP');
  const replacement = await waitFor('the supervisor to start a replacement once the lock is stale', async () => {
    const agent = await agentState(k, 'scheduler-service');
    return agent.state === 'running' && agent.pid !== first ? agent.pid! : undefined;
  });
  await waitFor('the replacement to act', () => readAgentLog(k, 'scheduler-service').some((l) => l.pid === replacement && l.text.startsWith('job heartbeat')));
  assert.ok(!isAlive(first) || isZombie(first), 'the frozen holder\'s agent was ended');
  const log = readAgentLog(k, 'scheduler-service');
  // An agent on runAgent sees the lock go stale itself and stops without acting; any other is ended by the new holder.
  assert.ok(
    log.some((l) => (l.pid === first && /^lock lost \(.*\): exiting without acting$/.test(l.text)) || /^ended the previous holder's command \(pid \d+: (stopped|killed)\)/.test(l.text)),
    log.map((l) => `${l.pid} ${l.text}`).join('\n'),
  );
  // Never two acting at once: the first agent's last line comes before the replacement's first.
  const lastOfFirst = log.filter((l) => l.pid === first).at(-1)!.at;
  const firstOfNew = log.find((l) => l.pid === replacement)!.at;
  assert.ok(lastOfFirst <= firstOfNew, 'the old agent wrote after the new one started');

  process.kill(holder, 'SIGCONT');
  await waitFor('the resumed holder to exit', () => !isAlive(holder));
  const after = readAgentLog(k, 'scheduler-service');
  assert.ok(after.some((l) => l.pid === holder && /^(lock lost \(.*\): ending scheduler-service without waiting|scheduler-service exited \(code 4\))$/.test(l.text)), after.map((l) => `${new Date(l.at).toISOString()} ${l.pid} ${l.text}`).join('\n'));
  assert.deepEqual(k.processesRunning(agentScripts['scheduler-service']), [replacement]);
  assert.equal((await agentState(k, 'scheduler-service')).pid, replacement);
});

test('a lock path taken by a plain file: a clear error, never a crash', { timeout: 60_000 }, async () => {
  const k = await kit();
  const locks = path.join(k.logsDir, 'run', 'kit-locks');
  mkdirSync(locks, { recursive: true });
  writeFileSync(path.join(locks, 'scheduler-service.lock'), 'not a lock');
  const started = await k.run('mh', ['start', 'scheduler-service']);
  assert.equal(started.code, 1, started.output);
  assert.match(started.stderr, /scheduler-service/);
  assert.match(started.output, /cannot be used: it is a file, not a lock directory/);
  assert.doesNotMatch(started.stderr, /\n\s+at /);
  const agent = await agentState(k, 'scheduler-service');
  assert.equal(agent.state, 'unknown');
  assert.match(agent.detail ?? '', /not a lock directory/);

  const byHand = await exec(process.execPath, agentArgs(agentScripts['scheduler-service']), { ...k.env, AGENT_NAME: 'scheduler-service' }, 30_000);
  assert.equal(byHand.code, 1);
  assert.match(byHand.stderr, /scheduler-service\.lock cannot be used: it is a file/);
});

test('a lock with a corrupt owner record is waited out, then taken; one of another host is left alone', { timeout: 120_000 }, async () => {
  const k = await kit({ LOCK_STALE_MS: '4000' });
  const locks = path.join(k.logsDir, 'run', 'kit-locks');
  mkdirSync(path.join(locks, 'scheduler-service.lock'), { recursive: true });
  writeFileSync(path.join(locks, 'scheduler-service.owner.json'), '{"pid": "garbage');
  const unknown = await agentState(k, 'scheduler-service');
  assert.equal(unknown.state, 'unknown');
  assert.match(unknown.detail ?? '', /owner file/);
  const started = await k.run('mh', ['start', 'scheduler-service']);
  assert.equal(started.code, 0, started.output);
  assert.equal((await agentState(k, 'scheduler-service')).state, 'running');

  mkdirSync(path.join(locks, 'audio-organizer.lock'));
  const foreign = { name: 'audio-organizer', pid: 4242, host: `not-${os.hostname()}`, startedAt: new Date().toISOString(), startTicks: 1, command: 'x', token: 't' };
  writeFileSync(path.join(locks, 'audio-organizer.owner.json'), JSON.stringify(foreign));
  const agent = await agentState(k, 'audio-organizer');
  assert.equal(agent.state, 'running');
  assert.equal(agent.detail, `on ${foreign.host}`);
  const stop = await k.run('mh', ['stop', 'audio-organizer']);
  assert.equal(stop.code, 1);
  assert.match(stop.stderr, new RegExp(`held by pid 4242 on ${foreign.host}: stop it there`));
});
