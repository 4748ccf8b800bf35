import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { rawRequest, request } from '../helpers/http.js';
import { operatorPassword, TestKit } from '../helpers/kit.js';

// Who may see and do what on the reference site, against a real 2-worker cluster.
let kit: TestKit;
const json = { 'Content-Type': 'application/json' };

before(async () => {
  kit = await TestKit.create({ instances: 2, env: { TASK_STEP_MS: '20' } });
  const started = await kit.run('start-pm2', ['--no-agents']);
  assert.equal(started.code, 0, started.output);
});

after(async () => {
  await kit?.cleanup();
});

/** Signs a new session in by name on /session; returns its cookie. */
async function signIn(name: string, cookie?: string): Promise<string> {
  const res = await request(`${kit.url}/session`, {
    method: 'POST',
    headers: { ...(cookie && { cookie }), Origin: kit.url, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: `name=${name}`,
  });
  assert.equal(res.status, 303, res.body);
  return String(res.headers['set-cookie']).split(';')[0]!;
}

test('anonymous: operator pages go to the sign-in page, operator APIs and internal topics answer 401', async () => {
  for (const page of ['/ops', '/agents', '/audit']) {
    const res = await request(`${kit.url}${page}`);
    assert.equal(res.status, 303, page);
    assert.equal(res.headers.location, `/sign-in?next=${encodeURIComponent(page)}`);
  }
  assert.equal((await request(`${kit.url}/api/stats`)).status, 401);
  for (const topic of ['audit', 'ops', 'tasks', 'task-0123456789ab']) {
    assert.equal((await request(`${kit.url}/api/events/${topic}?lastEventId=0`)).status, 401, topic);
  }
  assert.equal((await request(`${kit.url}/api/stats`, { headers: kit.auth() })).status, 200);
  assert.equal((await request(`${kit.url}/ops`, { headers: kit.auth() })).status, 200);
  assert.equal((await request(`${kit.url}/api/tasks`, { method: 'POST', headers: json, body: '{"prompt":"x"}' })).status, 401);
});

test('the operator sign-in: a wrong password is refused, the right one opens /ops with a new session id', async () => {
  const first = await request(`${kit.url}/api/session/visits`, { method: 'POST', headers: json });
  const planted = String(first.headers['set-cookie']).split(';')[0]!;
  const form = { cookie: planted, Origin: kit.url, 'Content-Type': 'application/x-www-form-urlencoded' };
  const wrong = await request(`${kit.url}/sign-in?next=/ops`, { method: 'POST', headers: form, body: 'password=nope' });
  assert.equal(wrong.status, 401);
  const right = await request(`${kit.url}/sign-in?next=/ops`, { method: 'POST', headers: form, body: `password=${operatorPassword}` });
  assert.equal(right.status, 303);
  assert.equal(right.headers.location, '/ops');
  const cookie = String(right.headers['set-cookie']).split(';')[0]!;
  assert.notEqual(cookie, planted, 'the session id changes at sign-in');
  assert.equal((await request(`${kit.url}/ops`, { headers: { cookie } })).status, 200);
  assert.equal((await request(`${kit.url}/ops`, { headers: { cookie: planted } })).status, 303, 'the planted id is not signed in');
});

test('the session id changes at a sign-in by name', async () => {
  const first = await request(`${kit.url}/api/session/visits`, { method: 'POST', headers: json });
  const planted = String(first.headers['set-cookie']).split(';')[0]!;
  assert.notEqual(await signIn('mallory', planted), planted);
});

test('a flood of 3,000 tasks from one session gets 429 with Retry-After after the limit', { timeout: 120_000 }, async () => {
  const cookie = await signIn('flood');
  const statuses = new Map<number, number>();
  let retryAfter: string | undefined;
  for (let batch = 0; batch < 60; batch++) {
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => request(`${kit.url}/api/tasks`, { method: 'POST', headers: { ...json, cookie, Origin: kit.url }, body: '{"prompt":"flood"}' })),
    );
    for (const res of answers) {
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 429) retryAfter ??= String(res.headers['retry-after']);
    }
  }
  const accepted = statuses.get(202) ?? 0;
  // 10 a minute per worker, 2 workers, plus what refills while the flood lasts.
  assert.ok(accepted >= 10 && accepted <= 30, `${accepted} accepted: ${JSON.stringify([...statuses])}`);
  assert.equal((statuses.get(429) ?? 0) + accepted, 3000, JSON.stringify([...statuses]));
  assert.match(retryAfter ?? '', /^\d+$/);
});

test('a cross-origin text/plain or JSON task post from a signed-in browser is refused', async () => {
  const cookie = await signIn('victim');
  for (const type of ['text/plain', 'application/json']) {
    const res = await request(`${kit.url}/api/tasks`, { method: 'POST', headers: { cookie, 'Content-Type': type, Origin: 'https://elsewhere.example' }, body: '{"prompt":"x"}' });
    assert.equal(res.status, 403, `${type}: ${res.body}`);
  }
});

test("another user's task stream is refused; its owner and the token may read it", async () => {
  const alice = await signIn('alice');
  const bob = await signIn('bob');
  const posted = await request(`${kit.url}/api/tasks`, { method: 'POST', headers: { ...json, cookie: alice, Origin: kit.url }, body: '{"prompt":"secret plans"}' });
  assert.equal(posted.status, 202, posted.body);
  const { id, stream } = JSON.parse(posted.body) as { id: string; stream: string };
  assert.equal((await request(`${kit.url}${stream}`, { headers: { cookie: bob } })).status, 403);
  assert.equal((await request(`${kit.url}${stream}`)).status, 401);
  assert.equal((await request(`${kit.url}/api/events/task-${id}?lastEventId=0`, { headers: { cookie: alice } })).status, 401, 'the raw topic is operators only');
  // No agents run here, so the stream stays open: read its status, then hang up.
  assert.equal(await statusOf(`${kit.url}${stream}`, { cookie: alice }), 200);
  assert.equal(await statusOf(`${kit.url}${stream}`, kit.auth()), 200);
});

test('a Host outside SITE_HOSTS gets 421 before the site; loopback /healthz still answers', async () => {
  const bad = await rawRequest(kit.port, 'GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n');
  assert.match(bad, /^HTTP\/1\.1 421 /);
  const health = await rawRequest(kit.port, 'GET /healthz HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n');
  assert.match(health, /^HTTP\/1\.1 200 /);
  const none = await rawRequest(kit.port, 'GET / HTTP/1.0\r\n\r\n');
  assert.match(none, /^HTTP\/1\.1 400 /);
  assert.equal((await request(`${kit.url}/`, { headers: { Host: `localhost:${kit.port}` } })).status, 200);
});

test('bad session cookies are no session, never a 500', async () => {
  for (const value of ['..', 'x'.repeat(250), 'a%2Fb', '..%2F..%2Fetc%2Fpasswd', '%00', 'a/b', '']) {
    for (const [url, method] of [['/session', 'GET'], ['/api/session/visits', 'POST'], ['/ask', 'GET']] as const) {
      const res = await request(`${kit.url}${url}`, { method, headers: { ...json, cookie: `kit-session=${value}` } });
      assert.ok(res.status < 500, `${method} ${url} with kit-session=${value.slice(0, 20)}: ${res.status} ${res.body.slice(0, 200)}`);
    }
  }
});

test('session files are 0600 in a 0700 folder, not named by the session id', async () => {
  const cookie = await signIn('files');
  const folder = path.join(kit.logsDir, 'run', 'sessions');
  assert.equal(statSync(folder).mode & 0o777, 0o700);
  const names = readdirSync(folder).filter((name) => !name.endsWith('.tmp'));
  assert.ok(names.length > 0);
  for (const name of names) assert.equal(statSync(path.join(folder, name)).mode & 0o777, 0o600, name);
  assert.ok(!names.includes(cookie.split('=')[1]!), 'the cookie is not a file name');
});

/** The status of a response whose body may never end (a stream): resolved at its head, then the connection is dropped. */
function statusOf(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', reject);
  });
}
