import assert from 'node:assert/strict';
import test from 'node:test';
import {
  mergeRegistries,
  pointBetween,
  quantile,
  quantileBetween,
  ratePerSecond,
  routeGroup,
  statusLabel,
  withinWindow,
  WorkerMetrics,
  type Reading,
  type RegistryJson,
} from 'astro-cluster-kit/metrics';

const paths = { healthPath: '/healthz', metricsPath: '/metrics' };

test('route groups come from the path and the response, from a small fixed set', () => {
  assert.equal(routeGroup('/healthz', 'application/json', 200, paths), 'health');
  assert.equal(routeGroup('/metrics/', 'text/plain', 401, paths), 'metrics');
  assert.equal(routeGroup('/api/events/audit', 'text/event-stream; charset=utf-8', 200, paths), 'stream');
  assert.equal(routeGroup('/anything', 'text/event-stream', 200, paths), 'stream');
  assert.equal(routeGroup('/api/stats', 'application/json', 200, paths), 'api');
  assert.equal(routeGroup('/api/tasks', undefined, 405, paths), 'api');
  assert.equal(routeGroup('/_astro/nav.B1x.js', 'text/javascript', 200, paths), 'asset');
  assert.equal(routeGroup('/favicon.svg', 'image/svg+xml', 304, paths), 'asset');
  assert.equal(routeGroup('/', 'text/html', 200, paths), 'page');
  assert.equal(routeGroup('/guides/streams', 'text/html; charset=utf-8', 404, paths), 'page');
  assert.equal(routeGroup('/sign-in', undefined, 303, paths), 'page');
  assert.equal(routeGroup('/nothing', 'text/plain', 421, paths), 'other');
  // Hostile URLs land in the same few groups: nothing of the URL itself becomes a label.
  const groups = new Set(Array.from({ length: 500 }, (_, i) => routeGroup(`/x${i}/${'y'.repeat(i % 50)}${i % 3 ? '.php' : ''}`, i % 2 ? 'text/html' : undefined, 404, paths)));
  assert.ok(groups.size <= 3, [...groups].join(','));
});

test('statuses: exact for common codes, the class for others, none when nothing was sent', () => {
  assert.equal(statusLabel(200, true), '200');
  assert.equal(statusLabel(503, true), '503');
  assert.equal(statusLabel(418, true), '4xx');
  assert.equal(statusLabel(299, true), '2xx');
  assert.equal(statusLabel(200, false), 'none');
  assert.equal(statusLabel(999, true), 'other');
});

test('quantiles from cumulative buckets, as histogram_quantile computes them', () => {
  const buckets = [
    { le: 0.1, count: 50 },
    { le: 0.5, count: 90 },
    { le: 1, count: 100 },
    { le: Number.POSITIVE_INFINITY, count: 100 },
  ];
  assert.equal(quantile(buckets, 0.5), 0.1);
  assert.ok(Math.abs(quantile(buckets, 0.7)! - 0.3) < 1e-9);
  assert.ok(Math.abs(quantile(buckets, 0.99)! - 0.95) < 1e-9);
  assert.equal(quantile([{ le: 1, count: 0 }, { le: Number.POSITIVE_INFINITY, count: 0 }], 0.99), undefined);
  // Past the highest finite bound, the bound is all that is known.
  assert.equal(quantile([{ le: 1, count: 1 }, { le: Number.POSITIVE_INFINITY, count: 10 }], 0.99), 1);
  // Between two readings: only what happened in between counts.
  const before = [{ le: 0.1, count: 1000 }, { le: 1, count: 1000 }, { le: Number.POSITIVE_INFINITY, count: 1000 }];
  const after = [{ le: 0.1, count: 1000 }, { le: 1, count: 1010 }, { le: Number.POSITIVE_INFINITY, count: 1010 }];
  assert.ok(quantileBetween(before, after, 0.99)! > 0.1);
  assert.equal(quantileBetween(after, after, 0.99), undefined);
});

test('rates: a counter that went down is a new process, counted from zero', () => {
  assert.equal(ratePerSecond(100, 150, 5000), 10);
  assert.equal(ratePerSecond(1000, 20, 2000), 10);
  assert.equal(ratePerSecond(5, 5, 0), 0);
});

test('a point: rate and p99 over the interval, memory and streams as they are; the window keeps 15 minutes', () => {
  const reading = (at: number, requests: number, fast: number): Reading => ({
    at,
    requests,
    buckets: [
      { le: 0.01, count: fast },
      { le: 0.1, count: requests },
      { le: Number.POSITIVE_INFINITY, count: requests },
    ],
    rssBytes: 100,
    heapBytes: 50,
    streams: 3,
    connections: 4,
    restarts: 1,
  });
  const who = { worker: '1', host: 'h', pid: 42 };
  const first = pointBetween(undefined, reading(0, 0, 0), who);
  assert.equal(first.rps, 0);
  assert.equal(first.p99, null);
  const point = pointBetween(reading(0, 0, 0), reading(5000, 500, 0), who);
  assert.equal(point.rps, 100);
  assert.ok(point.p99! > 10 && point.p99! <= 100, String(point.p99));
  assert.deepEqual([point.w, point.pid, point.streams, point.conns, point.restarts], ['1', 42, 3, 4, 1]);
  const now = 20 * 60_000;
  const kept = withinWindow([{ t: now - 16 * 60_000 }, { t: now - 60_000 }, { t: now - 14 * 60_000 }], now);
  assert.deepEqual(kept.map((p) => p.t), [now - 14 * 60_000, now - 60_000]);
});

test('merging workers: each keeps its series under its worker label, and sums across workers are right', async () => {
  const zero = new WorkerMetrics({ worker: '0', build: 'b1' });
  const one = new WorkerMetrics({ worker: '1', build: 'b1' });
  zero.requests.inc({ group: 'page', status: '200' }, 7);
  one.requests.inc({ group: 'page', status: '200' }, 5);
  one.requests.inc({ group: 'api', status: '401' }, 2);
  for (const value of [0.002, 0.3]) zero.duration.observe({ group: 'page' }, value);
  one.duration.observe({ group: 'page' }, 0.02);
  const merged = mergeRegistries([(await zero.registry.getMetricsAsJSON()) as RegistryJson, (await one.registry.getMetricsAsJSON()) as RegistryJson]);
  const text = await merged.metrics();
  assert.match(text, /^astro_cluster_http_requests_total\{group="page",status="200",worker="0"\} 7$/m);
  assert.match(text, /^astro_cluster_http_requests_total\{group="page",status="200",worker="1"\} 5$/m);
  assert.match(text, /^astro_cluster_http_requests_total\{group="api",status="401",worker="1"\} 2$/m);
  assert.match(text, /^astro_cluster_http_request_duration_seconds_count\{group="page",worker="0"\} 2$/m);
  assert.match(text, /^astro_cluster_http_request_duration_seconds_bucket\{le="0\.025",group="page",worker="1"\} 1$/m);
  // Each worker's start time is kept (prom-client's aggregate would omit it).
  assert.match(text, /^process_start_time_seconds\{worker="0"\} \d+/m);
  assert.match(text, /^process_start_time_seconds\{worker="1"\} \d+/m);
  // One family per name, however many workers.
  assert.equal(text.match(/^# TYPE astro_cluster_http_requests_total counter$/gm)?.length, 1);
  // Two processes of one worker slot (a reload's old and new) are added together.
  const again = new WorkerMetrics({ worker: '0', build: 'b2' });
  again.requests.inc({ group: 'page', status: '200' }, 3);
  const overlap = await mergeRegistries([(await zero.registry.getMetricsAsJSON()) as RegistryJson, (await again.registry.getMetricsAsJSON()) as RegistryJson]).metrics();
  assert.match(overlap, /^astro_cluster_http_requests_total\{group="page",status="200",worker="0"\} 10$/m);
});

test('metrics settings: defaults, the config file, and mistakes reported', async () => {
  const { readSettings, workerEnv } = await import('astro-cluster-kit/core');
  const defaults = readSettings({}, '/somewhere');
  assert.deepEqual([defaults.metricsEnabled, defaults.metricsPath, defaults.metricsPort, defaults.metricsSampleMs], [true, '/metrics', undefined, 5000]);
  const set = readSettings({ METRICS_PATH: '/internal/metrics', METRICS_PORT: '9464', METRICS_SAMPLE_MS: '0', METRICS: 'off' }, '/somewhere');
  assert.deepEqual([set.metricsEnabled, set.metricsPath, set.metricsPort, set.metricsSampleMs], [false, '/internal/metrics', 9464, 0]);
  assert.deepEqual([workerEnv(set).METRICS_PORT, workerEnv(set).METRICS_PATH, workerEnv(set).METRICS_SAMPLE_MS], ['9464', '/internal/metrics', '0']);
  assert.equal(workerEnv(defaults).METRICS_PORT, undefined);
  assert.throws(() => readSettings({ METRICS_PATH: 'metrics', METRICS_PORT: '4321', METRICS_SAMPLE_MS: '10' }, '/somewhere'), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'KIT_INVALID_SETTINGS');
    for (const name of ['METRICS_PATH', 'METRICS_PORT', 'METRICS_SAMPLE_MS']) assert.match(error.message, new RegExp(name));
    return true;
  });
});
