import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { everydayCommands } from 'astro-cluster-kit/cli';

// An adopting repo has only what init wrote (bin/start-pm2, bin/stop-pm2, maybe ecosystem.config.cjs):
// start's closing hints must name commands that exist there.
test('start\'s everyday commands name the repo\'s own bin/ fronts where it has them, else astro-cluster, and its ecosystem file', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'kit-everyday-'));
  try {
    await mkdir(path.join(root, 'bin'));
    for (const name of ['start-pm2', 'stop-pm2']) await writeFile(path.join(root, 'bin', name), '#!/bin/sh\n');
    const adopted = everydayCommands(root, 'astro-web', path.join(root, 'ecosystem.config.cjs'));
    assert.match(adopted, /^ {2}pnpm exec pm2 reload ecosystem\.config\.cjs +zero-downtime reload$/m);
    assert.match(adopted, /^ {2}pnpm exec astro-cluster status +is it healthy/m);
    assert.match(adopted, /^ {2}pnpm exec astro-cluster agents status +the agents/m);
    assert.match(adopted, /^ {2}\.\/bin\/start-pm2 +rebuild/m);
    assert.match(adopted, /^ {2}\.\/bin\/stop-pm2 +stop the kit/m);
    assert.doesNotMatch(adopted, /bin\/status|bin\/mh/);

    for (const name of ['status', 'mh']) await writeFile(path.join(root, 'bin', name), '#!/bin/sh\n');
    const reference = everydayCommands(root, 'astro-web', path.join(root, 'ecosystem.config.js'));
    assert.match(reference, /^ {2}pnpm exec pm2 reload ecosystem\.config\.js +zero-downtime reload$/m);
    assert.match(reference, /^ {2}\.\/bin\/status +is it healthy/m);
    assert.match(reference, /^ {2}\.\/bin\/mh status +the agents/m);
    assert.match(reference, /^ {2}pnpm exec pm2 logs astro-web +follow the logs$/m);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
