import assert from 'node:assert/strict';
import path from 'node:path';
import test from 'node:test';
import { KitError, kitRoot, readSettings, workerEnv } from '@kit/core';

test('defaults: loopback, port 4321, one worker per core, everything under ./logs', () => {
  const settings = readSettings({}, '/somewhere');
  assert.equal(settings.host, '127.0.0.1');
  assert.equal(settings.port, 4321);
  assert.equal(settings.webInstances, 'max');
  assert.equal(settings.logsDir, path.join(kitRoot, 'logs'));
  assert.equal(settings.siteDir, path.join(kitRoot, 'apps', 'site', 'dist'));
  assert.equal(settings.webAppName, 'astro-web');
  assert.ok(settings.drainTimeoutMs > 0 && settings.startTimeoutMs > settings.drainTimeoutMs);
});

test('values from the environment are parsed, relative paths resolved against the caller', () => {
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
