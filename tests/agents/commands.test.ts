import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isAlive, isZombie } from 'astro-cluster-kit/core';
import { agentKits, agentScripts, agentState, readAgentLog, status } from '../helpers/agents.js';
import type { TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

// Any command as a singleton agent: each runs inside the kit's lock holder,
// which takes the lock, so the command needs no change and no import of the kit.
const kit = agentKits();
const quick = { maxRestarts: 5, baseDelayMs: 200, maxDelayMs: 800, stableAfterMs: 60_000 };

/** A kit whose agents are `entries` (AGENTS_CONFIG), plus the reference scheduler for company. */
async function kitWith(entries: Record<string, unknown>[], env: Record<string, string> = {}): Promise<TestKit> {
  const k = await kit(env);
  const config = path.join(k.dir, 'agents.json');
  writeFileSync(config, JSON.stringify({ agents: entries }));
  k.env.AGENTS_CONFIG = config;
  return k;
}

/** A plain Node program that knows nothing of the kit: it prints a tick every 100 ms until it is stopped. */
function plainAgent(k: TestKit, body = "setInterval(() => console.log(`tick ${process.pid}`), 100);"): string {
  const file = path.join(k.dir, 'plain.mjs');
  writeFileSync(file, `${body}\nprocess.on('SIGTERM', () => process.exit(0));\n`);
  return file;
}

const dead = (pid: number) => !isAlive(pid) || isZombie(pid);

test('a plain command: five concurrent starts give one process; SIGKILL brings it back after a back-off', { timeout: 120_000 }, async () => {
  const k = await kitWith([]);
  const script = plainAgent(k);
  writeFileSync(k.env.AGENTS_CONFIG!, JSON.stringify({ agents: [{ name: 'plain', command: ['node', script], restart: quick }] }));
  const results = await Promise.all(Array.from({ length: 5 }, () => k.run('mh', ['start', 'plain'])));
  for (const result of results) assert.equal(result.code, 0, result.output);
  const [pid] = await waitFor('one plain process', () => {
    const running = k.processesRunning(script);
    return running.length === 1 ? running : undefined;
  });
  assert.equal((await agentState(k, 'plain')).pid, pid);
  await waitFor('its ticks in its log', () => readAgentLog(k, 'plain').some((l) => l.pid === pid && l.text === `tick ${pid}`));

  process.kill(pid!, 'SIGKILL');
  const next = await waitFor('the supervisor to start it again', async () => {
    const agent = await agentState(k, 'plain');
    return agent.state === 'running' && agent.pid !== pid ? agent : undefined;
  });
  assert.equal(next.restarts, 1);
  assert.deepEqual(k.processesRunning(script), [next.pid]);
  assert.match(readAgentLog(k, 'supervisor').map((l) => l.text).join('\n'), /plain: crashed \(signal SIGKILL\); restart 1 in 200 ms/);
});

test('a frozen holder of a plain command: after the stale window its command is ended, then a new copy starts; never two alive', { timeout: 120_000 }, async () => {
  const k = await kitWith([], { LOCK_STALE_MS: '4000' });
  const script = plainAgent(k);
  writeFileSync(k.env.AGENTS_CONFIG!, JSON.stringify({ agents: [{ name: 'plain', command: ['node', script], stopTimeoutMs: 1000, restart: quick }] }));
  assert.equal((await k.run('mh', ['start', 'plain'])).code, 0);
  const first = (await agentState(k, 'plain')).pid!;
  const holder = k.lockOwner('plain')!.pid;

  // The holder freezes; its command does not, and would go on acting unless the takeover ends it.
  process.kill(holder, 'SIGSTOP');
  let most = 0;
  const replacement = await waitFor('a new copy once the lock is stale', async () => {
    most = Math.max(most, k.processesRunning(script).length);
    const agent = await agentState(k, 'plain');
    return agent.state === 'running' && agent.pid !== first ? agent.pid! : undefined;
  }, { intervalMs: 20 });
  assert.equal(most, 1, 'two copies were alive at once');
  await waitFor('the new copy to print', () => readAgentLog(k, 'plain').some((l) => l.pid === replacement));
  assert.ok(dead(first), 'the frozen holder\'s command was ended');
  const log = readAgentLog(k, 'plain');
  assert.ok(log.some((l) => new RegExp(`^ended the previous holder's command \\(pid ${first}: (stopped|killed)\\) before starting a new one$`).test(l.text)), log.map((l) => `${l.pid} ${l.text}`).join('\n'));
  assert.ok(log.filter((l) => l.pid === first).at(-1)!.at <= log.find((l) => l.pid === replacement)!.at, 'the old copy printed after the new one started');

  process.kill(holder, 'SIGCONT');
  await waitFor('the resumed holder to exit', () => dead(holder));
  assert.deepEqual(k.processesRunning(script), [replacement], [...readAgentLog(k, 'plain'), ...readAgentLog(k, 'supervisor')].map((l) => `${new Date(l.at).toISOString()} ${l.pid} ${l.text}`).filter((l) => !l.includes(' tick ')).join('\n'));
});

test('an optional service whose command is missing is reported and skipped; a required one fails, with the reason', { timeout: 60_000 }, async () => {
  const k = await kitWith([
    { name: 'scheduler-service', script: agentScripts['scheduler-service'] },
    { name: 'tunnel', kind: 'service', optional: true, command: ['no-such-tunnel-program', '--port', '9000'] },
    { name: 'voice', kind: 'service', command: ['./bin/no-such-voice-server'] },
  ]);
  const started = await k.run('mh', ['start', 'scheduler-service', 'tunnel']);
  assert.equal(started.code, 0, started.output);
  assert.match(started.stdout, /tunnel skipped: its command no-such-tunnel-program was not found/);
  const tunnel = await agentState(k, 'tunnel');
  assert.equal(tunnel.state, 'skipped');
  assert.equal(tunnel.kind, 'service');
  assert.equal((await agentState(k, 'scheduler-service')).state, 'running');

  const voice = await k.run('mh', ['start', 'voice']);
  assert.equal(voice.code, 1, voice.output);
  assert.match(voice.stderr, /voice failed to start and was left stopped: its command \.\/bin\/no-such-voice-server was not found/);
  const table = await k.run('mh', ['status']);
  assert.match(table.stdout, /tunnel \(service\)\s+skipped/);
  assert.match(table.stdout, /voice \(service\)\s+failed/);
});

test('a SIGKILLed supervisor is back by itself, and goes on restarting crashed agents', { timeout: 120_000 }, async () => {
  const k = await kitWith([]);
  const script = plainAgent(k);
  writeFileSync(k.env.AGENTS_CONFIG!, JSON.stringify({ agents: [{ name: 'plain', command: ['node', script], restart: quick }] }));
  assert.equal((await k.run('mh', ['start', 'plain'])).code, 0);
  const supervisor = (await status(k)).supervisor.pid!;
  process.kill(supervisor, 'SIGKILL');
  const killedAt = Date.now();
  const back = await waitFor('a new supervisor', async () => {
    const now = (await status(k)).supervisor;
    return now.state === 'running' && now.pid !== supervisor ? now.pid : undefined;
  });
  console.log(`  supervisor back after ${Date.now() - killedAt} ms (pid ${back})`);

  const pid = (await agentState(k, 'plain')).pid!;
  process.kill(pid, 'SIGKILL');
  await waitFor('the new supervisor to restart the agent', async () => {
    const agent = await agentState(k, 'plain');
    return agent.state === 'running' && agent.pid !== pid;
  });
  assert.deepEqual(k.processesRunning(script).length, 1);
});

test('agents whose lock folder vanished take their locks again and go on running', { timeout: 60_000 }, async () => {
  const k = await kitWith([{ name: 'scheduler-service', script: agentScripts['scheduler-service'] }]);
  assert.equal((await k.run('mh', ['start', 'scheduler-service'])).code, 0);
  const before = (await agentState(k, 'scheduler-service')).pid!;
  rmSync(path.join(k.logsDir, 'run', 'kit-locks'), { recursive: true, force: true });
  await waitFor('the lock taken again', async () => {
    const agent = await agentState(k, 'scheduler-service');
    return agent.state === 'running' && k.lockOwner('scheduler-service') !== undefined ? agent : undefined;
  });
  assert.equal((await agentState(k, 'scheduler-service')).pid, before, 'the same agent goes on');
  assert.ok(readAgentLog(k, 'scheduler-service').some((l) => /^the lock folder vanished \(.*\): took the lock again$/.test(l.text)));
  const heartbeats = () => readAgentLog(k, 'scheduler-service').filter((l) => l.pid === before && l.text.startsWith('job heartbeat')).length;
  const seen = heartbeats();
  await waitFor('it to go on acting', () => heartbeats() > seen + 2);
});

test('a TypeScript agent runs its current code: edited, it runs the new code at its next start, with no build', { timeout: 60_000 }, async () => {
  const k = await kitWith([]);
  const file = path.join(k.dir, 'greeter.ts');
  const write = (word: string) => writeFileSync(file, `const word: string = '${word}';\nconsole.log(\`says \${word}\`);\nsetInterval(() => undefined, 1000);\nprocess.on('SIGTERM', () => process.exit(0));\n`);
  write('hello');
  writeFileSync(k.env.AGENTS_CONFIG!, JSON.stringify({ agents: [{ name: 'greeter', script: file }] }));
  assert.equal((await k.run('mh', ['start', 'greeter'])).code, 0);
  await waitFor('the first words', () => readAgentLog(k, 'greeter').some((l) => l.text === 'says hello'));
  write('again');
  assert.equal((await k.run('mh', ['start', '--restart', 'greeter'])).code, 0);
  await waitFor('the edited code to run', () => readAgentLog(k, 'greeter').some((l) => l.text === 'says again'));
});
