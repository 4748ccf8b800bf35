import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import autocannon from 'autocannon';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, signInOperator } from '../helpers/browser.js';
import { operatorPassword, TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';

// The /ops charts in a real browser, on a real 2-worker cluster under load.
let kit: TestKit;
let browser: Browser;
let page: Page;

before(async () => {
  kit = await TestKit.started({ instances: 2, env: { METRICS_SAMPLE_MS: '1000' } });
  browser = await launchChromium();
  page = await browser.newPage();
  await signInOperator(page, kit.url, operatorPassword);
});

after(async () => {
  await browser?.close();
  await kit?.cleanup();
});

const chart = (id: string) => page.locator(`[data-chart="${id}"]`);
const latest = async (id: string) => (await chart(id).getAttribute('data-latest')) ?? '';

test('an operator session reads /metrics; a browser without one is refused', { timeout: 60_000 }, async () => {
  const mine = await page.request.get(`${kit.url}/metrics`);
  assert.equal(mine.status(), 200);
  assert.match(await mine.text(), /^astro_cluster_http_requests_total\{/m);
  const stranger = await browser.newContext();
  const theirs = await stranger.request.get(`${kit.url}/metrics`);
  assert.equal(theirs.status(), 401);
  assert.doesNotMatch(await theirs.text(), /astro_cluster_/);
  await stranger.close();
});

test('/ops opens on the points recorded before it, and its charts move under load', { timeout: 180_000 }, async () => {
  // Points recorded while nobody watched are on the page when it opens (rendered with it, not only streamed).
  await waitFor('points of both workers in the log', async () => {
    await page.goto(`${kit.url}/ops`);
    const backlog = JSON.parse((await page.textContent('#points')) ?? '[]') as { w: string }[];
    return new Set(backlog.map((p) => p.w)).size === 2 && backlog.length >= 4;
  }, { timeoutMs: 60_000, intervalMs: 1000 });
  await page.waitForSelector('[data-testid="metrics-status"]:has-text("live")', { timeout: 30_000 });
  for (const id of ['rps', 'p99', 'memory', 'streams', 'restarts']) assert.ok(Number(await chart(id).getAttribute('data-points')) >= 4, `${id} has points`);
  assert.ok(Number(await latest('memory')) > 10, 'memory of the workers in MB');
  // This page holds two event streams (ops and metrics): they show up on the streams chart.
  await waitFor('the page\'s own streams on the chart', async () => Number(await latest('streams')) >= 2, { timeoutMs: 30_000 });
  assert.equal(await page.locator('[data-chart="rps"] path[data-series]').count(), 2, 'one line per worker');

  const quietPath = await page.locator('[data-chart="rps"] path[data-series="worker 0"]').getAttribute('d');
  // Bounded load on loopback: 8 s, 4 connections.
  const load = new Promise<autocannon.Result>((resolve, reject) =>
    autocannon({ url: `${kit.url}/`, connections: 4, duration: 8 }, (error, value) => (error ? reject(error) : resolve(value))),
  );
  const seen = await waitFor('requests/s on the chart', async () => {
    const value = Number(await latest('rps'));
    return value >= 5 ? value : undefined;
  }, { timeoutMs: 30_000, intervalMs: 250 });
  const result = await load;
  assert.ok(result.requests.total > 0);
  assert.ok(seen > 0);
  assert.ok(Number(await latest('p99')) > 0, 'p99 of the loaded interval');
  assert.notEqual(await page.locator('[data-chart="rps"] path[data-series="worker 0"]').getAttribute('d'), quietPath, 'the line moved');
  assert.match((await chart('rps').textContent()) ?? '', /Requests\/s.*\/s/);
  await page.screenshot({ path: path.join(kit.logsDir, 'ops-charts.png'), fullPage: true });
  // Once the load ends, the rate falls back: the chart follows live, not only the load's peak.
  await waitFor('the rate back down', async () => Number(await latest('rps')) < seen, { timeoutMs: 30_000, intervalMs: 250 });
});
