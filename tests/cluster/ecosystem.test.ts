import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import { exec, repoRoot, TestKit } from '../helpers/kit.js';

const ecosystem = path.join(repoRoot, 'ecosystem.config.js');
const kits: TestKit[] = [];

after(async () => {
  for (const kit of kits) await kit.cleanup();
});

/** Loads the ecosystem file in a fresh Node process, the way PM2 does (require) or the way ESM code would (import). */
async function load(env: Record<string, string>, how: 'require' | 'import' = 'require') {
  const code =
    how === 'require'
      ? `console.log(JSON.stringify(require(${JSON.stringify(ecosystem)})))`
      : `import(${JSON.stringify(ecosystem)}).then((m) => console.log(JSON.stringify(m.default)))`;
  const result = await exec(process.execPath, ['-e', code], { ...process.env, ...env }, 30_000);
  return { ...result, config: result.code === 0 ? JSON.parse(result.stdout) : undefined };
}

test('a cluster app with wait_ready, timeouts sized from the settings, logs under LOGS_DIR', async () => {
  const { config, output } = await load({
    WEB_INSTANCES: '3',
    PORT: '5123',
    HOST: '127.0.0.1',
    LOGS_DIR: '/tmp/kit-logs',
    DRAIN_TIMEOUT_MS: '4000',
    START_TIMEOUT_MS: '12000',
  });
  assert.ok(config, output);
  const [app] = config.apps;
  assert.equal(config.apps.length, 1);
  assert.equal(app.name, 'astro-web');
  assert.equal(app.exec_mode, 'cluster');
  assert.equal(app.instances, 3);
  assert.equal(app.wait_ready, true);
  assert.equal(app.listen_timeout, 12000);
  assert.ok(app.kill_timeout > 4000, 'PM2 waits longer than the drain deadline before SIGKILL');
  assert.ok(app.exp_backoff_restart_delay > 0 && app.max_restarts > 0 && app.min_uptime > 0);
  assert.match(app.max_memory_restart, /^\d+[KMG]$/);
  assert.equal(app.out_file, '/tmp/kit-logs/pm2/astro-web-out.log');
  assert.equal(app.error_file, '/tmp/kit-logs/pm2/astro-web-error.log');
  assert.ok(app.log_date_format);
  assert.equal(app.script, path.join(repoRoot, 'packages', 'kit', 'dist', 'web', 'main.js'));
  assert.deepEqual(
    { PORT: app.env.PORT, HOST: app.env.HOST, NODE_ENV: app.env.NODE_ENV, LOGS_DIR: app.env.LOGS_DIR },
    { PORT: '5123', HOST: '127.0.0.1', NODE_ENV: 'production', LOGS_DIR: '/tmp/kit-logs' },
  );
});

test('defaults to one worker per core', async () => {
  const { config } = await load({});
  assert.equal(config.apps[0].instances, 'max');
});

test('loads through import() as well as require()', async () => {
  const { config, output } = await load({ WEB_INSTANCES: '2' }, 'import');
  assert.ok(config, output);
  assert.equal(config.apps[0].instances, 2);
});

test('invalid values stop it with a message naming each variable', async () => {
  const { code, stderr } = await load({ WEB_INSTANCES: 'abc', PORT: '99999' });
  assert.notEqual(code, 0);
  assert.match(stderr, /WEB_INSTANCES="abc": expected "max" or a whole number/);
  assert.match(stderr, /PORT="99999"/);
});

test('plain `pm2 start ecosystem.config.js` shows that message too and starts nothing', { timeout: 60_000 }, async () => {
  const kit = await TestKit.create({ env: { WEB_INSTANCES: 'abc' } });
  kits.push(kit);
  const result = await kit.pm2(['start', ecosystem]);
  assert.notEqual(result.code, 0);
  assert.match(result.output, /WEB_INSTANCES="abc"/);
  assert.deepEqual(await kit.list(), []);
});
