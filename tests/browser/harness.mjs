// Shared set-up of the multi-tab browser tests: one Chromium and one static
// server per test file; one BrowserContext per test (Web Locks and
// SharedWorkers are per context).
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Starts Chromium and the server before the file's tests, stops them after. */
export function useBrowser() {
  const env = {};
  before(async () => {
    env.server = await startServer();
    env.browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    });
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.close();
  });
  return env;
}

/** A fresh app name, so tests never share a coordinator or a lock. */
export function uniqueApp(prefix) {
  return `${prefix}-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
}

/** Polls `condition` until it returns a truthy value; fails after `timeout` ms. */
export async function waitUntil(condition, { timeout = 5000, what = 'the condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Opens a test tab of `app` in `context` and waits until its client joined. */
export async function openTab(context, baseUrl, app) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${baseUrl}/tests/browser/fixtures/tab.html?app=${encodeURIComponent(app)}`);
  await page.evaluate(() => window.ready);
  page.errors = errors;
  return page;
}

/** Opens `n` tabs of `app` at once (as a user restoring a session would). */
export function openTabs(context, baseUrl, app, n) {
  return Promise.all(Array.from({ length: n }, () => openTab(context, baseUrl, app)));
}

/** Each tab's role. */
export function roles(pages) {
  return Promise.all(pages.map((p) => p.evaluate(() => window.client.role)));
}

/** Waits until exactly one of `pages` leads; returns its index. */
export async function oneLeader(pages, { timeout = 5000 } = {}) {
  const found = await waitUntil(async () => {
    const rs = await roles(pages);
    return rs.filter((r) => r === 'leader').length === 1 ? rs : null;
  }, { timeout, what: 'exactly one leader' });
  return found.indexOf('leader');
}

/** A round trip to the backend over the tab's session; the backend's answer. */
export function echo(page, value = Math.random()) {
  return page.evaluate((value) => window.ask({ op: 'echo', value }, 3000), value);
}
