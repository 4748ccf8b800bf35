import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { KitError } from 'astro-cluster-kit/core';
import { loadAgents, pickAgents } from 'astro-cluster-kit/agents';
import { repoRoot } from '../helpers/kit.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'kit-registry-'));
function config(content: unknown): string {
  const file = path.join(dir, `agents-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

test('the reference deployment declares scheduler-service, audio-organizer, task-runner and pm2-monitor in astro-cluster.config.json, run as commands from the root', async () => {
  const agents = await loadAgents(path.join(repoRoot, 'astro-cluster.config.json'));
  assert.deepEqual(agents.map((a) => a.name), ['scheduler-service', 'audio-organizer', 'task-runner', 'pm2-monitor']);
  // Commands, as any repo's agents: Node on the TypeScript source through tsx, from the root.
  for (const agent of agents) {
    assert.deepEqual(agent.command.slice(0, 3), ['node', '--import', 'tsx']);
    assert.ok(agent.command[3]?.startsWith('apps/agents/src/'));
    assert.equal(agent.cwd, repoRoot);
  }
});

test('adding an agent is adding an entry; unset restart settings take the defaults', async () => {
  const agents = await loadAgents(config({ agents: [{ name: 'mailer', script: 'mailer.js', restart: { maxRestarts: 2 } }] }));
  assert.equal(agents[0]?.script, path.join(dir, 'mailer.js'));
  assert.equal(agents[0]?.restart.maxRestarts, 2);
  assert.ok((agents[0]?.restart.baseDelayMs ?? 0) > 0);
});

for (const [why, content] of [
  ['not JSON', '{ agents: '],
  ['no agents list', { jobs: [] }],
  ['a bad name', { agents: [{ name: 'Bad Name', script: 'x.js' }] }],
  ['the reserved name', { agents: [{ name: 'supervisor', script: 'x.js' }] }],
  ['a name used twice', { agents: [{ name: 'a', script: 'a.js' }, { name: 'a', script: 'b.js' }] }],
  ['no script', { agents: [{ name: 'a' }] }],
  ['an unknown restart setting', { agents: [{ name: 'a', script: 'a.js', restart: { retries: 3 } }] }],
  ['a negative delay', { agents: [{ name: 'a', script: 'a.js', restart: { baseDelayMs: -1 } }] }],
] as const) {
  test(`a config with ${why} is refused with a clear error`, async () => {
    await assert.rejects(loadAgents(config(content)), (error: unknown) => error instanceof KitError && error.code === 'KIT_AGENTS_CONFIG_INVALID');
  });
}

test('picking an unknown name is a usage error listing the known ones', async () => {
  const agents = await loadAgents(config({ agents: [{ name: 'a', script: 'a.js' }] }));
  assert.throws(() => pickAgents(agents, ['b']), (error: unknown) => error instanceof KitError && error.code === 'KIT_USAGE' && /Known agents: a/.test(error.hint ?? ''));
  assert.deepEqual(pickAgents(agents, []).map((a) => a.name), ['a']);
});
