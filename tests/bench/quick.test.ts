import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { exec, repoRoot } from '../helpers/kit.js';
import type { BenchResults } from './report.js';

// `pnpm bench` in its quick mode, as a smoke test: every measurement runs and writes its results.
test('BENCH_QUICK=1 pnpm bench runs every scenario and writes JSON, Markdown and a chart', { timeout: 600_000 }, async () => {
  const logs = mkdtempSync(path.join(os.tmpdir(), 'kit-bench-'));
  try {
    const run = await exec(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(repoRoot, 'tests', 'bench', 'run.ts')], { ...process.env, BENCH_QUICK: '1', LOGS_DIR: logs }, 590_000);
    assert.equal(run.code, 0, run.output.slice(-3000));
    const results = JSON.parse(readFileSync(path.join(logs, 'bench', 'latest.json'), 'utf8')) as BenchResults;
    assert.equal(results.quick, true);
    const setups = results.throughput.map((t) => t.setup);
    assert.deepEqual(setups.slice(0, 3), ['adapter standalone', 'kit server, 1 process', 'PM2 cluster, 1 worker']);
    assert.equal(setups.at(-1), `PM2 cluster, ${os.cpus().length} worker${os.cpus().length === 1 ? '' : 's'}`);
    assert.deepEqual(results.scaling?.map((row) => `PM2 cluster, ${row.workers} worker${row.workers === 1 ? '' : 's'}`), setups.slice(2));
    for (const row of results.throughput) {
      assert.ok(row.page.reqPerSec > 0 && row.page.errors === 0 && row.page.non2xx === 0, row.setup);
    }
    assert.equal(results.reload.failed, 0, 'no failed request during the reload');
    assert.equal(results.deploy.failed, 0, 'no failed request during the deploy');
    assert.equal(results.sse.established, results.sse.target);
    for (const latency of [results.sse.idle, results.sse.latency]) assert.equal(latency.delivered, latency.streams * latency.events);
    assert.ok(results.coldStart.seconds > 0);
    // The stream servers side by side, each fed every event.
    assert.deepEqual(results.streams?.map((row) => row.setup), ['kit, file backend', 'kit, Redis backend', 'bare Node SSE server']);
    for (const row of results.streams ?? []) {
      assert.equal(row.established, row.target, row.setup);
      for (const latency of [row.idle, row.latency]) assert.equal(latency.delivered, latency.streams * latency.events, row.setup);
    }
    // Memory per idle stream after a full collection: the kit's worker and the bare server, every stream held.
    assert.deepEqual(results.idleMemory?.map((row) => row.server), ['kit worker', 'bare Node SSE server']);
    for (const row of results.idleMemory ?? []) {
      assert.equal(row.established, row.streams, row.server);
      assert.ok(row.perStreamKiB.heapUsed > 0, `${row.server}: an idle stream costs some heap`);
    }
    // The scale run: every stream heartbeats, gets every event, and comes back after the reload at the last event, with no gap.
    const scale = results.scale!;
    assert.equal(scale.established, scale.target);
    assert.equal(scale.heartbeats.withHeartbeat, scale.established);
    assert.equal(scale.delivered.streamsAtLast, scale.established);
    assert.equal(scale.delivered.gaps, 0);
    assert.equal(scale.reload.reconnected, scale.established, 'every stream was drained and reconnected');
    assert.equal(scale.reload.streamsAtLast, scale.established);
    assert.equal(scale.reload.gaps, 0);
    assert.ok(scale.openFileLimit > 0);
    // --compare reads two runs' JSON and prints ratios.
    const json = path.join(logs, 'bench', 'latest.json');
    const compared = await exec(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(repoRoot, 'tests', 'bench', 'run.ts'), '--compare', json, json], process.env, 60_000);
    assert.equal(compared.code, 0, compared.output);
    assert.match(compared.stdout, /\| kit, file backend: held p99 ms \| [\d.]+ \| [\d.]+ \| 1\.00× \|/);
    assert.match(compared.stdout, /\| kit worker: heap per idle stream KiB \| [\d.]+ \| [\d.]+ \| 1\.00× \|/);
    const report = readFileSync(path.join(logs, 'bench', 'latest.md'), 'utf8');
    assert.match(report, /\| PM2 cluster, \d+ workers \| \d+/);
    assert.match(report, /\| kit worker \| \d+ of \d+ \| [\d.]+ KiB \|/);
    assert.match(readFileSync(path.join(logs, 'bench', 'throughput.svg'), 'utf8'), /^<svg /);
  } finally {
    rmSync(logs, { recursive: true, force: true });
  }
});
