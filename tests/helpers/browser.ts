import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';

/** Debian's Chromium, driven by Playwright (no browser download), with the flags this machine needs. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: apt-get install -y chromium (tests/setup does it)`);
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Signs the page's browser context in as operator on /sign-in (the kit's OPERATOR_PASSWORD). */
export async function signInOperator(page: import('playwright-core').Page, baseUrl: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/sign-in`);
  await page.fill('input[name="password"]', password);
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith('/sign-in')), page.click('button:has-text("Sign in")')]);
}

/** Signs the page's browser context in with a name on /session (what /ask needs). */
export async function signInByName(page: import('playwright-core').Page, baseUrl: string, name: string): Promise<void> {
  await page.goto(`${baseUrl}/session`);
  await page.fill('input[name="name"]', name);
  await page.click('button:has-text("Sign in")');
  await page.waitForSelector(`[data-testid="name"]:has-text("${name}")`);
}
