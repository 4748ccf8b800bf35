import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { request } from '../helpers/http.js';
import { TestKit } from '../helpers/kit.js';

// Secrets given to the kit in its environment stay out of what PM2 keeps: dump.pm2 is written by `pm2 save`
// from every app's environment, and PM2 copies the starting shell's whole environment into it.
const token = 'tok-' + 'a1b2c3d4'.repeat(4);
const redisPassword = 'redis-pass-' + 'z9y8'.repeat(3);
let kit: TestKit;

before(async () => {
  kit = await TestKit.create({
    instances: 2,
    // Sessions would go to this Redis, which is never asked: only its password in the URL matters here.
    env: { EVENTS_TOKEN: token, REDIS_URL: `redis://kit:${redisPassword}@127.0.0.1:1/0`, OPERATOR_PASSWORD: 'operator-' + 'q'.repeat(12) },
  });
  const started = await kit.run('start-pm2');
  assert.equal(started.code, 0, started.output);
});

after(async () => {
  await kit?.cleanup();
});

const mode = (file: string) => statSync(file).mode & 0o777;

test('dump.pm2 is mode 600 and holds no secret', async () => {
  const saved = await kit.pm2(['save', '--force']);
  assert.equal(saved.code, 0, saved.output);
  // The kit's own save (start saves the process list) chmods it; a pm2 save by hand keeps the mode of the existing file.
  const dump = path.join(kit.env.PM2_HOME as string, 'dump.pm2');
  assert.equal(mode(dump).toString(8), '600');
  const content = readFileSync(dump, 'utf8');
  assert.ok(content.includes(kit.logsDir), 'the dump is the kit’s');
  for (const secret of [token, redisPassword, 'operator-']) assert.ok(!content.includes(secret), `dump.pm2 holds ${secret}`);
});

test('the workers were started without the secrets in their environment', async () => {
  for (const worker of await kit.onlineWorkers(2)) {
    const environ = readFileSync(`/proc/${worker.pid}/environ`, 'utf8');
    assert.ok(!environ.includes(token) && !environ.includes(redisPassword), `worker ${worker.pid} got a secret from PM2`);
  }
});

test('the secrets are kept in LOGS_DIR/run/secrets.json, mode 600 in a folder of mode 700', () => {
  const file = path.join(kit.logsDir, 'run', 'secrets.json');
  assert.equal(mode(file).toString(8), '600');
  assert.equal(mode(path.dirname(file)).toString(8), '700');
  const kept = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  assert.equal(kept.EVENTS_TOKEN, token);
  assert.match(kept.REDIS_URL!, new RegExp(redisPassword));
});

test('publishing with the token still works, and without it does not', async () => {
  const body = JSON.stringify({ hello: 'secrets' });
  const published = await request(`${kit.url}/api/events/audit`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body });
  assert.ok(published.status >= 200 && published.status < 300, `${published.status} ${published.body}`);
  const refused = await request(`${kit.url}/api/events/audit`, { method: 'POST', headers: { Authorization: 'Bearer wrong-token-of-some-length', 'Content-Type': 'application/json' }, body });
  assert.equal(refused.status, 401);
});
