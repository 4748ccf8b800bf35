import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import autocannon from 'autocannon';
import { TestKit, repoRoot } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

// The kit's central promise: `pm2 reload` under keep-alive load loses no request.
let kit: TestKit;

before(async () => {
  kit = await TestKit.create({ instances: 2 });
  const started = await kit.run('start-pm2', ['--no-agents']);
  assert.equal(started.code, 0, started.output);
});

after(async () => {
  await kit.cleanup();
});

test('three pm2 reloads under keep-alive load: 0 errors, 0 non-2xx, every worker replaced each time', { timeout: 300_000 }, async () => {
  const css = readdirSync(path.join(repoRoot, '.astro-cluster', 'current', 'client', '_astro')).find((name) => name.endsWith('.css'));
  let responses = 0;
  let finish!: (result: autocannon.Result) => void;
  const finished = new Promise<autocannon.Result>((resolve) => (finish = resolve));
  const load = autocannon({
    url: kit.url,
    connections: 16,
    // A bound, not a goal: the load stops as soon as the reloads are done.
    duration: 150,
    requests: [{ path: '/' }, { path: '/healthz' }, { path: '/guides?q=reload' }, { path: `/_astro/${css}` }],
  }, (error, result) => (error ? assert.fail(error) : finish(result)));
  load.on('response', () => responses++);

  try {
    let previous = new Set((await kit.onlineWorkers(2)).map((w) => w.pid));
    for (let round = 1; round <= 3; round++) {
      const mark = responses;
      await waitFor('load to flow before the reload', () => responses > mark + 500);
      const reload = await kit.pm2(['reload', path.join(repoRoot, 'ecosystem.config.js')]);
      assert.equal(reload.code, 0, reload.output);
      const current = (await kit.onlineWorkers(2, previous)).map((w) => w.pid);
      assert.equal(current.length, 2);
      for (const pid of current) assert.ok(!previous.has(pid), `round ${round}: worker ${pid} was not replaced`);
      previous = new Set(current);
    }
    const mark = responses;
    await waitFor('load to flow after the last reload', () => responses > mark + 500);
  } finally {
    load.stop();
  }

  const result = await finished;
  assert.ok(result.requests.total > 2000, `only ${result.requests.total} requests: the load did not really run`);
  assert.equal(result.errors, 0, `${result.errors} failed requests`);
  assert.equal(result.timeouts, 0, `${result.timeouts} timeouts`);
  assert.equal(result.non2xx, 0, `${result.non2xx} non-2xx responses`);
});
