import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { isAlive } from 'astro-cluster-kit/core';
import { status } from '../helpers/agents.js';
import { request, type SimpleResponse } from '../helpers/http.js';
import { TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

// A full disk under LOGS_DIR (a 2 MB tmpfs): every write fails with ENOSPC. Requests that need to write answer
// 503 with the cause at once, nothing that writes a log or a state file dies, and all of it works again once
// space is freed, leaving no temporary files behind.
const mountPoint = path.join(os.tmpdir(), `kit-full-disk-${process.pid}`);
let mounted = false;
let kit: TestKit;
let token: string;
const filler = path.join(mountPoint, 'filler');

function tryMount(): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  mkdirSync(mountPoint, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    mounted = true;
    return undefined;
  } catch (error) {
    return `mount -t tmpfs failed here: ${(error as Error).message}`;
  }
}

const skip = tryMount();

before(async () => {
  if (skip) return;
  kit = await TestKit.create({ instances: 2, env: { LOGS_DIR: path.join(mountPoint, 'logs'), MONITOR_SNAPSHOT_MS: '300' } });
  const started = await kit.run('start-pm2');
  assert.equal(started.code, 0, started.output);
  token = readFileSync(path.join(kit.logsDir, 'run', 'events.token'), 'utf8').trim();
});

after(async () => {
  try {
    if (kit) await kit.cleanup();
  } finally {
    if (mounted) execFileSync('umount', ['-l', mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  }
});

function fillDisk(): void {
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  // Whatever is left is smaller than a block: take it too.
  for (let i = 0; ; i++) {
    try {
      writeFileSync(`${filler}-${i}`, 'x');
    } catch {
      break;
    }
  }
}

function freeDisk(): void {
  for (const name of readdirSync(mountPoint)) if (name.startsWith('filler')) unlinkSync(path.join(mountPoint, name));
}

async function timed(what: () => Promise<SimpleResponse>): Promise<SimpleResponse & { ms: number }> {
  const start = Date.now();
  const response = await what();
  return { ...response, ms: Date.now() - start };
}

const publish = () =>
  request(`${kit.url}/api/events/audit`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{"disk":"full"}' });
const visit = (cookie?: string) =>
  request(`${kit.url}/api/session/visits`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(cookie && { cookie }) } });
const signIn = () =>
  request(`${kit.url}/session`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: kit.url }, body: 'name=Ada' });

function temporaryFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...temporaryFiles(full));
    else if (entry.name.endsWith('.tmp')) found.push(full);
  }
  return found;
}

test('a full disk: publishing and sessions answer 503 with the cause at once; agents and the supervisor live on; all works again once space is freed', { skip, timeout: 180_000 }, async () => {
  const before = await status(kit);
  assert.equal(before.supervisor.state, 'running', JSON.stringify(before));
  const pids = new Map<number, string>([[before.supervisor.pid!, 'supervisor'], ...before.agents.filter((a) => a.pid).map((a) => [a.pid!, a.name] as [number, string])]);
  assert.ok((await visit()).status === 200, 'sessions work first');

  fillDisk();
  try {
    // The last page of an event file may still have room for a few events: each publish answers at once, and 503 soon.
    let published = await timed(publish);
    for (let i = 0; i < 500 && published.status === 201; i++) published = await timed(publish);
    assert.equal(published.status, 503, published.body);
    assert.ok(published.ms < 5000, `publish took ${published.ms} ms`);
    assert.match(published.body, /ENOSPC|no space/i);

    const visited = await timed(() => visit());
    assert.equal(visited.status, 503, visited.body);
    assert.ok(visited.ms < 5000, `the session POST took ${visited.ms} ms`);
    assert.match(visited.body, /ENOSPC|no space/i);
    const signedIn = await timed(signIn);
    assert.equal(signedIn.status, 503, signedIn.body);
    assert.ok(signedIn.ms < 5000, `the sign-in took ${signedIn.ms} ms`);

    // Several rounds of the supervisor (state saves), the monitor (snapshots) and the agents (logs) on a full disk.
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      for (const [pid, name] of pids) assert.ok(isAlive(pid), `${name} (pid ${pid}) died on a full disk: ${JSON.stringify(before)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    freeDisk();
  }

  await waitFor('publishing again', async () => (await publish()).status === 201);
  const first = await waitFor('sessions again', async () => {
    const response = await visit();
    return response.status === 200 ? response : undefined;
  });
  const cookie = String(first.headers['set-cookie']).split(';')[0]!;
  assert.equal((JSON.parse((await visit(cookie)).body) as { visits: number }).visits, 2);
  assert.equal((await signIn()).status, 303);
  const after = await status(kit);
  assert.equal(after.supervisor.state, 'running');
  for (const [pid, name] of pids) assert.ok(isAlive(pid), `${name} (pid ${pid}) is gone after the disk was freed`);
  assert.deepEqual(temporaryFiles(kit.logsDir), [], 'no temporary files left behind');
});

test('a sessions folder that is a plain file: a session POST answers 503 at once, never hangs', { skip, timeout: 60_000 }, async () => {
  const sessions = path.join(kit.logsDir, 'run', 'sessions');
  const moved = `${sessions}.moved-aside`;
  renameSync(sessions, moved);
  writeFileSync(sessions, 'not a folder');
  try {
    assert.ok(statSync(sessions).isFile());
    const visited = await timed(() => visit());
    assert.equal(visited.status, 503, visited.body);
    assert.ok(visited.ms < 5000, `took ${visited.ms} ms`);
    assert.match(visited.body, /ENOTDIR|EEXIST|not a directory/i);
    const signedIn = await timed(signIn);
    assert.equal(signedIn.status, 503, signedIn.body);
  } finally {
    unlinkSync(sessions);
    renameSync(moved, sessions);
  }
  assert.equal((await visit()).status, 200);
});
