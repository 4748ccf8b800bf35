import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { FileEventLog } from 'astro-cluster-kit/event-log';
import { isAlive } from 'astro-cluster-kit/core';
import { TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

// The pm2-monitor's watchdog and its reports of killed workers and of the daemon's death, against a real cluster.
let kit: TestKit;
const stopped: number[] = [];

before(async () => {
  kit = await TestKit.create({ instances: 2, env: { MONITOR_PING_MS: '500', MONITOR_PING_MISSES: '3', START_TIMEOUT_MS: '5000', MONITOR_SNAPSHOT_MS: '500' } });
  const started = await kit.run('start-pm2');
  assert.equal(started.code, 0, started.output);
});

after(async () => {
  for (const pid of stopped) if (isAlive(pid)) process.kill(pid, 'SIGCONT');
  await kit.cleanup();
});

type Entry = { source: string; kind: string; message: string; signal?: string | null };
async function audit(): Promise<Entry[]> {
  const events = new FileEventLog(path.join(kit.logsDir, 'run', 'events'), { count: 100_000, maxAgeMs: 86_400_000 });
  return (await events.latest('audit', 500)).map((e) => e.data as Entry);
}

test('a worker PM2 calls online that answers nothing (SIGSTOP) is reloaded and reported', { timeout: 120_000 }, async () => {
  const workers = await kit.onlineWorkers(2);
  const victim = workers[0]!;
  process.kill(victim.pid, 'SIGSTOP');
  stopped.push(victim.pid);
  const entry = await waitFor(
    'the watchdog audit entry',
    async () => (await audit()).find((e) => e.source === 'pm2-monitor' && e.kind === 'watchdog' && e.message.includes(`pid ${victim.pid}`)),
    { timeoutMs: 60_000, intervalMs: 300 },
  );
  assert.match(entry.message, /did not answer 3 health pings in a row.*reloaded|restarted/);
  await kit.onlineWorkers(2, new Set([victim.pid]));
  await waitFor('the stopped worker to be gone', () => !isAlive(victim.pid), { timeoutMs: 30_000 });
});

test('a worker killed by SIGKILL is reported with its signal', { timeout: 90_000 }, async () => {
  const [worker] = await kit.onlineWorkers(2);
  process.kill(worker!.pid, 'SIGKILL');
  const entry = await waitFor('the exit audit entry', async () => (await audit()).find((e) => e.source === 'pm2-monitor' && e.kind === 'exit' && /SIGKILL/.test(e.message)), {
    timeoutMs: 30_000,
    intervalMs: 300,
  });
  assert.match(entry.message, /killed by signal SIGKILL/);
});

test("the PM2 daemon's death is reported", { timeout: 90_000 }, async () => {
  const daemon = kit.daemonPid();
  assert.ok(daemon);
  process.kill(daemon, 'SIGKILL');
  await waitFor('the daemon-died audit entry', async () => (await audit()).some((e) => e.source === 'pm2-monitor' && e.kind === 'daemon-died' && e.message.includes(`pid ${daemon}`)), {
    timeoutMs: 60_000,
    intervalMs: 300,
  });
});
