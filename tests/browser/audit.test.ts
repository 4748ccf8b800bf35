import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, signInByName, signInOperator } from '../helpers/browser.js';
import { operatorPassword, repoRoot, TestKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/wait.js';
import { publish } from '../events/fanout.js';

// A real browser on the live pages of a real 2-worker cluster.
let kit: TestKit;
let browser: Browser;
let page: Page;
let token: string;

before(async () => {
  kit = await TestKit.started({ instances: 2, env: { TASK_STEP_MS: '20' } });
  token = kit.token();
  browser = await launchChromium();
  page = await browser.newPage();
  // The audit page is an operator's.
  await signInOperator(page, kit.url, operatorPassword);
});

after(async () => {
  await browser?.close();
  await kit?.cleanup();
});

async function rowIds(): Promise<string[]> {
  return page.$$eval('#events tr', (rows) => rows.map((row) => row.getAttribute('data-id') ?? ''));
}

test('the audit page shows what the agents report, and live events as they are published', { timeout: 120_000 }, async () => {
  await page.goto(`${kit.url}/audit`);
  await page.waitForSelector('[data-testid="status"]:has-text("live from worker")', { timeout: 30_000 });
  assert.ok((await page.textContent('#events'))?.includes('started (pid'), 'the agents reported their start');
  const ids: string[] = [];
  for (let n = 1; n <= 3; n++) ids.push((await publish(kit, token, 'audit', { source: 'test', kind: 'note', message: `live note ${n}` })).id);
  await waitFor('the live notes on the page', async () => (await rowIds()).filter((id) => ids.includes(id)).length === 3);
  assert.match((await page.textContent('#events')) ?? '', /live note 3/);
});

test('after a pm2 reload the page shows every event published during it, once each', { timeout: 180_000 }, async () => {
  const published: string[] = [];
  let stop = false;
  const publisher = (async () => {
    for (let n = 0; !stop; n++) {
      published.push((await publish(kit, token, 'audit', { source: 'test', kind: 'note', message: `during reload ${n}` })).id);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  const before = new Set((await kit.onlineWorkers(2)).map((w) => w.pid));
  const reload = await kit.pm2(['reload', path.join(repoRoot, 'ecosystem.config.js')]);
  assert.equal(reload.code, 0, reload.output);
  await kit.onlineWorkers(2, before);
  const mark = published.length;
  await waitFor('events after the reload', () => published.length > mark + 10);
  stop = true;
  await publisher;

  await waitFor('every event on the page', async () => {
    const shown = new Set(await rowIds());
    return published.every((id) => shown.has(id));
  }, { timeoutMs: 60_000 });
  const shown = await rowIds();
  assert.equal(shown.length, new Set(shown).size, 'no event shown twice');
  assert.match((await page.textContent('[data-testid="notice"]')) ?? '', /Reconnected to worker \d+: caught up on \d+ event\(s\) published while away/);
  assert.match((await page.textContent('[data-testid="status"]')) ?? '', /live from worker \d+/);
  await page.screenshot({ path: path.join(kit.logsDir, 'audit-after-reload.png'), fullPage: true });
});

test('the ask page streams an answer from the task-runner, token by token', { timeout: 60_000 }, async () => {
  // Tasks are for signed-in sessions: a fresh browser context signs in with a name first.
  const asker = await browser.newPage();
  await signInByName(asker, kit.url, 'Grace');
  await asker.goto(`${kit.url}/ask`);
  await asker.fill('input[name="prompt"]', 'what keeps agents single');
  await asker.click('button:has-text("Ask")');
  await asker.waitForSelector('[data-testid="state"]:has-text("done in")', { timeout: 30_000 });
  assert.match((await asker.textContent('[data-testid="reply"]')) ?? '', /^You wrote 4 words and 24 characters\. The longest word is "agents"\./);
  await asker.close();
});

test('the session page: sign in with a name, count visits on any worker', { timeout: 60_000 }, async () => {
  await page.goto(`${kit.url}/session`);
  await page.fill('input[name="name"]', 'Ada');
  await page.click('button:has-text("Sign in")');
  await page.waitForSelector('[data-testid="name"]:has-text("Ada")');
  for (let i = 1; i <= 3; i++) {
    await page.click('#count');
    await page.waitForSelector(`[data-testid="visits"]:has-text("${i}")`);
  }
  await page.reload();
  assert.equal(await page.textContent('[data-testid="visits"]'), '3');
});
