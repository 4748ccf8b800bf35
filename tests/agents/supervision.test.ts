import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { isAlive } from 'astro-cluster-kit/core';
import { agentScripts, agentsKit, agentState, readAgentLog } from '../helpers/agents.js';
import type { TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

// The supervisor: restarts with back-off, gives up on a crash loop, tries again on demand.
let kit: TestKit;

after(async () => {
  await kit?.cleanup();
});

test('a crashed agent comes back by itself; one that keeps crashing is left failed, and mh start tries again', { timeout: 120_000 }, async () => {
  kit = await agentsKit();
  // The shipped agents plus one that dies right after it starts, with quick back-off.
  const crasher = path.join(kit.dir, 'crasher.mjs');
  writeFileSync(crasher, "console.error('crasher: cannot reach its database'); process.exit(1);\n");
  const config = path.join(kit.dir, 'agents.json');
  const quick = { maxRestarts: 3, baseDelayMs: 100, maxDelayMs: 400, stableAfterMs: 60000 };
  writeFileSync(config, JSON.stringify({
    agents: [
      { name: 'scheduler-service', script: agentScripts['scheduler-service'], restart: quick },
      { name: 'crasher', script: crasher, restart: quick },
    ],
  }));
  kit.env.AGENTS_CONFIG = config;

  assert.equal((await kit.run('mh', ['start', 'scheduler-service'])).code, 0);
  const first = (await agentState(kit, 'scheduler-service')).pid!;
  process.kill(first, 'SIGKILL');
  const second = await waitFor('the supervisor to restart it', async () => {
    const agent = await agentState(kit, 'scheduler-service');
    return agent.state === 'running' && agent.pid !== first ? agent : undefined;
  });
  assert.equal(second.restarts, 1);
  assert.ok(isAlive(second.pid!));
  assert.match(readAgentLog(kit, 'supervisor').map((l) => l.text).join('\n'), /scheduler-service: crashed \(signal SIGKILL\); restart 1 in 100 ms/);

  const failed = await kit.run('mh', ['start', 'crasher']);
  assert.equal(failed.code, 1, failed.output);
  assert.match(failed.stderr, /crasher failed to start and was left stopped: it crashed 4 times in a row \(last: code 1\)/);
  assert.match(failed.stderr, /crasher: cannot reach its database/, 'the tail of its log is shown');
  const crashed = await agentState(kit, 'crasher');
  assert.equal(crashed.state, 'failed');
  assert.equal(crashed.restarts, 3);
  const table = await kit.run('mh', ['status']);
  assert.match(table.stdout, /crasher\s+failed\s+-\s+\S+ \S+\s+3 /);
  assert.equal((await agentState(kit, 'scheduler-service')).state, 'running', 'the other agent is unaffected');

  // It stays failed, with no more tries, through several rounds of the supervisor, until someone asks again.
  const mark = Date.now();
  await waitFor('the supervisor to go round a few more times', () => Date.parse(supervisorRecord().updatedAt) > mark + 1500);
  assert.equal((await agentState(kit, 'crasher')).restarts, 3);
  assert.equal((await agentState(kit, 'crasher')).state, 'failed');
  const again = await kit.run('mh', ['start', 'crasher']);
  assert.equal(again.code, 1);
  assert.equal((await agentState(kit, 'crasher')).restarts, 6);
});

function supervisorRecord(): { updatedAt: string } {
  return JSON.parse(readFileSync(path.join(kit.logsDir, 'run', 'kit-state', 'supervisor.json'), 'utf8'));
}
