import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { hideSecrets, KitError, readSecrets, readSettings, secretsFile, workerEnv } from 'astro-cluster-kit/core';

/** A project folder holding `config` as its astro-cluster.config.json; removed after `body`. */
function withConfig(config: unknown, body: (root: string) => void): void {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kit-config-'));
  try {
    writeFileSync(path.join(root, 'astro-cluster.config.json'), typeof config === 'string' ? config : JSON.stringify(config));
    body(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('defaults: loopback, port 4321, one worker per core, logs and releases under the project root', () => {
  const settings = readSettings({}, '/somewhere');
  assert.equal(settings.root, '/somewhere');
  assert.equal(settings.configFile, undefined);
  assert.equal(settings.host, '127.0.0.1');
  assert.equal(settings.port, 4321);
  assert.equal(settings.webInstances, 'max');
  assert.equal(settings.healthPath, '/healthz');
  assert.equal(settings.logsDir, '/somewhere/logs');
  assert.equal(settings.siteRoot, '/somewhere');
  assert.equal(settings.siteOutDir, '/somewhere/dist');
  assert.equal(settings.releasesDir, '/somewhere/.astro-cluster/releases');
  assert.equal(settings.siteDir, '/somewhere/.astro-cluster/current');
  assert.equal(settings.webAppName, 'astro-web');
  assert.ok(settings.drainTimeoutMs > 0 && settings.startTimeoutMs > settings.drainTimeoutMs);
});

test('values from the environment are parsed, relative paths resolved against the project root', () => {
  const settings = readSettings({ PORT: '8080', HOST: '0.0.0.0', WEB_INSTANCES: '3', LOGS_DIR: 'var/logs', WEB_MAX_MEMORY: '2G' }, '/srv/app');
  assert.equal(settings.port, 8080);
  assert.equal(settings.host, '0.0.0.0');
  assert.equal(settings.webInstances, 3);
  assert.equal(settings.logsDir, '/srv/app/var/logs');
  assert.equal(settings.webMaxMemory, '2G');
});

test('blank values count as unset', () => {
  assert.equal(readSettings({ PORT: '  ', WEB_INSTANCES: '' }).port, 4321);
});

for (const [name, value] of [
  ['PORT', '0'],
  ['PORT', '65536'],
  ['PORT', '80a'],
  ['PORT', '-1'],
  ['WEB_INSTANCES', '0'],
  ['WEB_INSTANCES', 'all'],
  ['WEB_INSTANCES', '1.5'],
  ['HOST', 'bad host'],
  ['DRAIN_TIMEOUT_MS', 'soon'],
  ['WEB_MAX_MEMORY', '512MB'],
  ['WEB_APP_NAME', 'has space'],
] as const) {
  test(`${name}=${value} is refused with a message naming it`, () => {
    assert.throws(
      () => readSettings({ [name]: value }),
      (error: unknown) => error instanceof KitError && error.code === 'KIT_INVALID_SETTINGS' && error.message.includes(`${name}="${value}"`),
    );
  });
}

test('every invalid variable is reported at once', () => {
  try {
    readSettings({ PORT: 'x', WEB_INSTANCES: 'y' });
    assert.fail('expected an error');
  } catch (error) {
    assert.ok(error instanceof KitError);
    assert.match(error.message, /PORT="x"/);
    assert.match(error.message, /WEB_INSTANCES="y"/);
    assert.ok(error.hint);
  }
});

test('workerEnv hands the worker what it needs, as strings', () => {
  const env = workerEnv(readSettings({ PORT: '5000' }));
  assert.equal(env.PORT, '5000');
  assert.equal(env.HOST, '127.0.0.1');
  assert.ok(path.isAbsolute(env.LOGS_DIR ?? ''));
  assert.ok(path.isAbsolute(env.SITE_DIR ?? ''));
});

test('astro-cluster.config.json is found from a folder below the root, and its fields are read', () => {
  withConfig({ site: { dir: 'apps/web', outDir: 'build', inputs: ['apps/web', 'packages/ui'] }, web: { name: 'shop', port: 8080, instances: 3, healthPath: '/up' }, releases: { keep: 3 } }, (root) => {
    const settings = readSettings({}, path.join(root, 'apps'));
    assert.equal(settings.root, root);
    assert.equal(settings.configFile, path.join(root, 'astro-cluster.config.json'));
    assert.equal(settings.siteRoot, path.join(root, 'apps', 'web'));
    assert.equal(settings.siteOutDir, path.join(root, 'apps', 'web', 'build'));
    assert.deepEqual(settings.siteInputs, [path.join(root, 'apps', 'web'), path.join(root, 'packages', 'ui')]);
    assert.equal(settings.webAppName, 'shop');
    assert.equal(settings.port, 8080);
    assert.equal(settings.webInstances, 3);
    assert.equal(settings.healthPath, '/up');
    assert.equal(settings.releasesKeep, 3);
  });
});

test('the environment overrides the config file for one run', () => {
  withConfig({ web: { port: 8080, name: 'shop' } }, (root) => {
    const settings = readSettings({ PORT: '9090', ASTRO_CLUSTER_ROOT: root }, '/elsewhere');
    assert.equal(settings.port, 9090);
    assert.equal(settings.webAppName, 'shop');
  });
});

test('a bad value in the config file is refused with the field named', () => {
  withConfig({ web: { port: 99999 } }, (root) => {
    assert.throws(
      () => readSettings({}, root),
      (error: unknown) => error instanceof KitError && error.code === 'KIT_INVALID_SETTINGS' && error.message.includes('astro-cluster.config.json web.port="99999"'),
    );
  });
});

for (const [config, expected] of [
  [{ web: { prot: 1 } }, 'web.prot: not a setting'],
  [{ site: 'apps/site' }, 'site: expected an object'],
  [{ site: { inputs: 'src' } }, 'site.inputs: expected an array of paths'],
  [{ web: { port: true } }, 'web.port: expected a string or a number'],
  ['{ "web": ', 'not JSON'],
] as const) {
  test(`a config file with ${JSON.stringify(config)} is refused: ${expected}`, () => {
    withConfig(config, (root) => {
      assert.throws(
        () => readSettings({}, root),
        (error: unknown) => error instanceof KitError && error.code === 'KIT_CONFIG_INVALID' && error.message.includes(expected),
      );
    });
  });
}

test('secrets: kept in LOGS_DIR/run/secrets.json (600, folder 700), read from it when unset, never in the workers\' env', () => {
  withConfig({}, (root) => {
    const logs = path.join(root, 'logs');
    const token = 'secret-token-0123456789';
    const env: Record<string, string | undefined> = { LOGS_DIR: logs, EVENTS_TOKEN: token, REDIS_URL: 'redis://u:pw-secret@127.0.0.1:6379' };
    hideSecrets(env, logs);
    assert.equal(env.EVENTS_TOKEN, undefined, 'gone from the environment');
    const file = secretsFile(logs);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
    const settings = readSettings({ LOGS_DIR: logs }, root);
    assert.equal(settings.eventsToken, token);
    assert.equal(settings.redisUrl, 'redis://u:pw-secret@127.0.0.1:6379');
    const workers = JSON.stringify(workerEnv(settings));
    assert.ok(!workers.includes(token) && !workers.includes('pw-secret'), workers);
    // The environment wins; a later run without the variables keeps the file's values.
    assert.equal(readSettings({ LOGS_DIR: logs, EVENTS_TOKEN: 'another-token-0123456789' }, root).eventsToken, 'another-token-0123456789');
    hideSecrets({ LOGS_DIR: logs }, logs);
    assert.equal(readSecrets(logs).EVENTS_TOKEN, token);
    assert.deepEqual(readdirSync(path.dirname(file)).filter((name) => name.endsWith('.tmp')), []);
  });
});
