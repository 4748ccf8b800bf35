import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import autocannon from 'autocannon';
import { socketDir } from 'astro-cluster-kit/metrics';
import { freePort, request } from '../helpers/http.js';
import { repoRoot, TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';
import { labelValues, parseSamples, total } from './prom-text.js';

// A real 2-worker cluster under PM2 (agents too): a known number of requests, then /metrics from any worker.
let kit: TestKit;
let metricsPort: number;
const children: ChildProcess[] = [];

before(async () => {
  metricsPort = await freePort();
  kit = await TestKit.started({ instances: 2, env: { METRICS_PORT: String(metricsPort), METRICS_SAMPLE_MS: '1000' } });
});

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await kit?.cleanup();
});

async function scrape(url = `${kit.url}/metrics`, headers: Record<string, string> = kit.auth()) {
  const res = await request(url, { headers });
  assert.equal(res.status, 200, res.body.slice(0, 300));
  return { samples: parseSamples(res.body), text: res.body, workers: String(res.headers['x-metrics-workers'] ?? '').split(',') };
}

/** A scrape that has heard from both workers (each registers its socket as it starts). */
function scrapeOfBoth() {
  return waitFor('a scrape with both workers', async () => {
    const result = await scrape();
    return labelValues(result.samples, 'astro_cluster_http_requests_total', 'worker').length === 2 || result.workers.length === 2 ? result : undefined;
  });
}

test('a scrape from any worker shows both workers, and its totals match the requests sent', { timeout: 120_000 }, async (t) => {
  const before = await scrapeOfBoth();
  assert.deepEqual([...before.workers].sort(), ['0', '1']);
  const base = total(before.samples, 'astro_cluster_http_requests_total', { group: 'page', status: '200' });
  const baseMissing = total(before.samples, 'astro_cluster_http_requests_total', { group: 'page', status: '404' });
  const baseCount = total(before.samples, 'astro_cluster_http_request_duration_seconds_count', { group: 'page' });

  const sent = 1500;
  // 8 connections, so the cluster hands them to both workers; exactly `sent` requests.
  let loading = true;
  const load = new Promise<autocannon.Result>((resolve, reject) =>
    autocannon({ url: `${kit.url}/`, connections: 8, amount: sent }, (error, value) => (error ? reject(error) : resolve(value))),
  ).finally(() => (loading = false));
  // Scrapes during the load answer, from both workers, with counts on their way up.
  const during = await waitFor('a scrape that sees the load', async () => {
    const result = await scrape();
    const counted = total(result.samples, 'astro_cluster_http_requests_total', { group: 'page', status: '200' }) - base;
    return counted > 0 ? { counted, workers: result.workers, loading } : undefined;
  }, { intervalMs: 20 });
  assert.deepEqual([...during.workers].sort(), ['0', '1']);
  assert.ok(during.counted <= sent);
  const result = await load;
  t.diagnostic(`a scrape ${during.loading ? 'during' : 'after'} the load counted ${during.counted} of ${sent}`);
  assert.equal(result.non2xx, 0);
  assert.equal(result.errors, 0);
  const missing = await request(`${kit.url}/no-such-page-${Date.now()}`);
  assert.equal(missing.status, 404);

  const after = await scrape();
  const perWorker = ['0', '1'].map((worker) => total(after.samples, 'astro_cluster_http_requests_total', { group: 'page', status: '200', worker }));
  assert.equal(perWorker[0]! + perWorker[1]! - base, sent, `requests counted: ${perWorker.join(' + ')} (before: ${base})`);
  assert.ok(perWorker.every((count) => count > 0), `both workers served some: ${perWorker.join(', ')}`);
  assert.equal(total(after.samples, 'astro_cluster_http_request_duration_seconds_count', { group: 'page' }) - baseCount, sent + 1);
  assert.equal(total(after.samples, 'astro_cluster_http_requests_total', { group: 'page', status: '404' }) - baseMissing, 1);
  // The histogram's +Inf bucket holds every observation: summable across workers, as Prometheus sums it.
  assert.equal(total(after.samples, 'astro_cluster_http_request_duration_seconds_bucket', { group: 'page', le: '+Inf' }), total(after.samples, 'astro_cluster_http_request_duration_seconds_count', { group: 'page' }));
  // Earlier scrapes are counted too, in their own group.
  assert.ok(total(after.samples, 'astro_cluster_http_requests_total', { group: 'metrics', status: '200' }) >= 1);

  // The rest of what an operator needs, cluster-wide.
  assert.deepEqual(labelValues(after.samples, 'astro_cluster_open_connections', 'worker'), ['0', '1']);
  assert.deepEqual(labelValues(after.samples, 'process_resident_memory_bytes', 'worker'), ['0', '1']);
  assert.deepEqual(labelValues(after.samples, 'process_start_time_seconds', 'worker'), ['0', '1']);
  assert.deepEqual(labelValues(after.samples, 'astro_cluster_worker_restarts_total', 'worker'), ['0', '1']);
  assert.ok(total(after.samples, 'astro_cluster_event_log_events') > 0, 'the event log holds the agents\' events and the points');
  assert.ok(total(after.samples, 'astro_cluster_event_log_bytes') > 0);
  assert.equal(total(after.samples, 'astro_cluster_metrics_source_up', { source: 'agents' }), 1);
  assert.ok(labelValues(after.samples, 'astro_cluster_agent_state', 'agent').includes('pm2-monitor'));
  assert.equal(total(after.samples, 'astro_cluster_agent_state', { agent: 'pm2-monitor', state: 'running' }), 1);
  assert.equal(total(after.samples, 'astro_cluster_metrics_workers', { outcome: 'answered' }), 2);
  assert.match(after.text, /^# TYPE astro_cluster_event_delivery_seconds histogram$/m);
});

test('publish-to-delivery latency is observed for each live event a stream sends', { timeout: 60_000 }, async () => {
  const before = total((await scrapeOfBoth()).samples, 'astro_cluster_event_delivery_seconds_count');
  const stream = await fetch(`${kit.url}/api/events/audit`, { headers: { ...kit.auth(), Accept: 'text/event-stream' } });
  assert.equal(stream.status, 200);
  const reader = stream.body!.getReader();
  let seen = '';
  const decoder = new TextDecoder();
  await waitFor('the stream to start', async () => ((seen += decoder.decode((await reader.read()).value)), seen.includes(': worker')));
  const published = await request(`${kit.url}/api/events/audit`, { method: 'POST', headers: { ...kit.auth(), 'Content-Type': 'application/json' }, body: JSON.stringify({ source: 'test', kind: 'note', message: 'latency' }) });
  assert.equal(published.status, 201, published.body);
  await waitFor('the event on the stream', async () => ((seen += decoder.decode((await reader.read()).value)), seen.includes('"latency"')));
  await waitFor('the delivery counted', async () => total((await scrape()).samples, 'astro_cluster_event_delivery_seconds_count') >= before + 1);
  await reader.cancel();
});

test('anonymous callers and wrong tokens get 401, never the data; the loopback port needs no token', { timeout: 60_000 }, async () => {
  for (const headers of [{}, { Authorization: 'Bearer wrong-token-wrong-token' }, { Authorization: 'Basic abc' }, { Cookie: 'kit-session=not-an-operator-session-id' }] as Record<string, string>[]) {
    const res = await request(`${kit.url}/metrics`, { headers });
    assert.equal(res.status, 401, JSON.stringify(headers));
    assert.doesNotMatch(res.body, /astro_cluster_|process_/);
  }
  assert.equal((await request(`${kit.url}/metrics`, { method: 'POST', headers: kit.auth() })).status, 405);
  const loopback = await waitFor('both workers on the loopback port', async () => {
    const result = await scrape(`http://127.0.0.1:${metricsPort}/metrics`, {});
    return result.workers.length === 2 ? result : undefined;
  });
  assert.deepEqual(labelValues(loopback.samples, 'astro_cluster_http_requests_total', 'worker'), ['0', '1']);
});

test('a peer that does not answer is left out within the deadline and counted; a dead one\'s socket is removed', { timeout: 60_000 }, async () => {
  const dir = socketDir(kit.logsDir);
  // A real process holding a socket in the folder and never answering (a worker stuck in a loop looks the same to a scrape).
  const silent = spawn(process.execPath, ['-e', `require('net').createServer(() => {}).listen(require('path').join(process.argv[1], process.pid + '.sock'), () => console.log('listening'))`, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(silent);
  // And one killed outright, whose socket file stays behind.
  const dead = spawn(process.execPath, ['-e', `require('net').createServer(() => {}).listen(require('path').join(process.argv[1], process.pid + '.sock'), () => console.log('listening'))`, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(dead);
  const deadSocket = path.join(dir, `${dead.pid}.sock`);
  await waitFor('both fake peers listening', () => existsSync(path.join(dir, `${silent.pid}.sock`)) && existsSync(deadSocket));
  dead.kill('SIGKILL');
  await waitFor('the killed peer gone', () => dead.exitCode !== null || dead.signalCode !== null);
  assert.ok(existsSync(deadSocket), 'a killed process leaves its socket file');

  const started = Date.now();
  const first = await scrape();
  const tookMs = Date.now() - started;
  assert.ok(tookMs < 5000, `the scrape waited ${tookMs} ms`);
  assert.equal(total(first.samples, 'astro_cluster_metrics_workers', { outcome: 'late' }), 1);
  assert.equal(total(first.samples, 'astro_cluster_metrics_workers', { outcome: 'stale' }), 1);
  assert.equal(total(first.samples, 'astro_cluster_metrics_workers', { outcome: 'answered' }), 2);
  assert.deepEqual(labelValues(first.samples, 'astro_cluster_http_requests_total', 'worker'), ['0', '1']);
  assert.ok(!existsSync(deadSocket), 'the dead peer\'s socket was removed');
  // The worker that gathered counts the silent peer; the next scrape (from either worker) shows it.
  const second = await scrape();
  assert.ok(total(second.samples, 'astro_cluster_metrics_unanswered_total') >= 1);
  assert.equal(total(second.samples, 'astro_cluster_metrics_workers', { outcome: 'stale' }), 0);
  // Once killed, the silent one is a dead one too: the next scrape removes its socket.
  silent.kill('SIGKILL');
  await waitFor('the silent peer gone', () => silent.exitCode !== null || silent.signalCode !== null);
  const third = await scrape();
  assert.equal(total(third.samples, 'astro_cluster_metrics_workers', { outcome: 'stale' }), 1);
  assert.equal(total(third.samples, 'astro_cluster_metrics_workers', { outcome: 'late' }), 0);
  assert.ok(!existsSync(path.join(dir, `${silent.pid}.sock`)));
});

test('after a pm2 reload: both new workers answer, each counts its reload, and the old ones took their sockets with them', { timeout: 120_000 }, async () => {
  const dir = socketDir(kit.logsDir);
  const before = new Set((await kit.onlineWorkers(2)).map((w) => w.pid));
  const reload = await kit.pm2(['reload', path.join(repoRoot, 'ecosystem.config.js')]);
  assert.equal(reload.code, 0, reload.output);
  const online = await kit.onlineWorkers(2, before);
  const expected = online.map((w) => `${w.pid}.sock`).sort();
  await waitFor('only the new workers\' sockets', () => JSON.stringify(readdirSync(dir).filter((name) => name.endsWith('.sock')).sort()) === JSON.stringify(expected));
  const after = await waitFor('a scrape of the new workers', async () => {
    const result = await scrape();
    return total(result.samples, 'astro_cluster_metrics_workers', { outcome: 'answered' }) === 2 ? result : undefined;
  });
  for (const worker of ['0', '1']) assert.equal(total(after.samples, 'astro_cluster_worker_restarts_total', { worker }), 1, `worker ${worker} counts its reload`);
  assert.equal(total(after.samples, 'astro_cluster_metrics_workers', { outcome: 'stale' }), 0);
});
