import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, request } from '../helpers/http.js';
import { repoRoot } from '../helpers/kit.js';
import { startWorkerProcess } from '../helpers/worker.js';

// A stray fault of the site ends the worker the way a reload does: the request
// in flight completes, the stack is logged, and the exit is non-zero so PM2
// starts a fresh worker. The fault comes from a fixture loaded with --require
// (tests/fixtures/stray-rejection.cjs), never from the shipped site.
const fixture = path.join(repoRoot, 'tests', 'fixtures', 'stray-rejection.cjs');
const siteDir = path.join(repoRoot, '.astro-cluster', 'current');

for (const kind of ['rejection', 'exception'] as const) {
  test(`an unhandled ${kind} drains the worker, then it exits non-zero`, { timeout: 60_000 }, async () => {
    const port = await freePort();
    const worker = await startWorkerProcess({
      PORT: String(port),
      HOST: '127.0.0.1',
      SITE_DIR: siteDir,
      DRAIN_TIMEOUT_MS: '5000',
      NODE_OPTIONS: `--require ${fixture}`,
      STRAY_KIND: kind,
      STRAY_SLOW_MS: '1500',
    });
    try {
      const started = Date.now();
      const slow = await request(`http://127.0.0.1:${port}/__fixture/slow`);
      assert.equal(slow.status, 200);
      assert.equal(slow.body, 'slow but complete', 'the request in flight completes');
      assert.ok(Date.now() - started >= 1400);
      const code = await worker.exited;
      assert.equal(code, 1, worker.output());
      const output = worker.output();
      assert.match(output, new RegExp(`unhandled ${kind === 'rejection' ? 'rejection' : 'exception'}: Error: stray ${kind}\\n\\s+at `), 'the stack is logged');
      assert.match(output, /: draining 1 connection\(s\)/);
      assert.match(output, /drained in \d+ ms; exiting/);
    } finally {
      if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    }
  });
}
