import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { isAlive } from 'astro-cluster-kit/core';
import { FileEventLog } from 'astro-cluster-kit/event-log';
import { agentsKit, status } from '../helpers/agents.js';
import { request } from '../helpers/http.js';
import { kitProcesses, type TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

// bin/start-pm2 and bin/stop-pm2 coordinate the agents with the web cluster.
let kit: TestKit;

before(async () => {
  kit = await agentsKit();
});

after(async () => {
  await kit.cleanup();
});

test('start-pm2 starts the agents, then the web cluster, and prints both', { timeout: 180_000 }, async () => {
  const result = await kit.run('start-pm2');
  assert.equal(result.code, 0, result.output);
  assert.ok(result.stdout.indexOf('started scheduler-service') < result.stdout.indexOf('starting 2 web worker(s)'), 'agents first');
  assert.match(result.stdout, /agents: scheduler-service running \(pid \d+\), audio-organizer running \(pid \d+\), task-runner running \(pid \d+\), pm2-monitor running \(pid \d+\)/);
  const report = await status(kit);
  assert.ok(report.agents.every((agent) => agent.state === 'running'));
});

test('the agents page shows the same state whichever worker renders it', { timeout: 60_000 }, async () => {
  const report = await status(kit);
  const workers = new Set<string>();
  await waitFor('the page from both workers', async () => {
    const page = await request(`${kit.url}/agents`, { headers: kit.auth() });
    assert.equal(page.status, 200);
    for (const agent of report.agents) {
      assert.ok(page.body.includes(`<tr data-agent="${agent.name}" data-kind="agent" data-state="running" data-pid="${agent.pid}">`), `${agent.name} on the page`);
    }
    assert.match(page.body, /data-testid="supervisor">running</);
    assert.match(page.body, /job heartbeat ran/, 'last log lines are shown');
    workers.add(/data-instance="(\d+)"/.exec(page.body)?.[1] ?? '?');
    return workers.size === 2;
  });
});

test('start-pm2 again leaves running agents alone', { timeout: 180_000 }, async () => {
  const before = await status(kit);
  const result = await kit.run('start-pm2');
  assert.equal(result.code, 0, result.output);
  for (const agent of before.agents) assert.match(result.stdout, new RegExp(`${agent.name} already running \\(pid ${agent.pid}\\)`));
});

test('stop-pm2 stops the web cluster, then the agents and the supervisor: nothing of the kit is left running', { timeout: 120_000 }, async () => {
  const before = await status(kit);
  const result = await kit.run('stop-pm2');
  assert.equal(result.code, 0, result.output);
  assert.match(result.stdout, /stopped astro-web: 2 worker\(s\)[\s\S]*stopped scheduler-service[\s\S]*stopped the supervisor/);
  for (const pid of [...before.agents.map((a) => a.pid), before.supervisor.pid]) assert.ok(pid && !isAlive(pid));
  assert.deepEqual(await kit.workers(), []);
  await waitFor('no process of the kit left', () => kitProcesses(kit.logsDir).length === 0);

  // Both commands, and the agents, reported on the audit topic.
  const audit = await new FileEventLog(path.join(kit.logsDir, 'run', 'events'), { count: 10_000, maxAgeMs: 86_400_000 }).latest('audit', 200);
  const said = audit.map((event) => event.data as { source: string; kind: string });
  for (const [source, kind] of [['start-pm2', 'started'], ['start-pm2', 'reloaded'], ['stop-pm2', 'stopped'], ['scheduler-service', 'started'], ['scheduler-service', 'job'], ['supervisor', 'stopped']]) {
    assert.ok(said.some((entry) => entry.source === source && entry.kind === kind), `${source} ${kind} on the audit topic`);
  }
});

test('--no-agents starts the web cluster only; a failed start stops the agents it started', { timeout: 180_000 }, async () => {
  const webOnly = await kit.run('start-pm2', ['--no-agents']);
  assert.equal(webOnly.code, 0, webOnly.output);
  assert.ok((await status(kit)).agents.every((agent) => agent.state === 'stopped'));
  assert.equal((await kit.run('stop-pm2')).code, 0);

  // A build that cannot start: the web start fails, and the agents started for it are stopped again.
  const broken = path.join(kit.dir, 'broken-site');
  mkdirSync(path.join(broken, 'server'), { recursive: true });
  writeFileSync(path.join(broken, 'build.json'), JSON.stringify({ id: 'broken', builtAt: new Date().toISOString() }));
  writeFileSync(path.join(broken, 'server', 'entry.mjs'), "throw new Error('no');\n");
  const failed = await kit.run('start-pm2', [], { SITE_DIR: broken });
  assert.equal(failed.code, 1, failed.output);
  assert.match(failed.stdout, /stopping the agents this start started: scheduler-service, audio-organizer, task-runner, pm2-monitor/);
  assert.ok((await status(kit)).agents.every((agent) => agent.state === 'stopped'));
});
