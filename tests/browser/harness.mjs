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

/**
 * Opens a test tab of `app` in `context` and waits until its client joined.
 * `options`, if given, are more options of its `Client` (see tab.html);
 * `page`, if given, is a new page of `context` to open it in (one the caller
 * set up, say with listeners of its own), rather than a fresh one.
 */
export async function openTab(context, baseUrl, app, options, page = undefined) {
  page ??= await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  let url = `${baseUrl}/tests/browser/fixtures/tab.html?app=${encodeURIComponent(app)}`;
  if (options) url += `&options=${encodeURIComponent(JSON.stringify(options))}`;
  await page.goto(url);
  await page.evaluate(() => window.ready);
  page.errors = errors;
  return page;
}

/** Opens `n` tabs of `app` at once (as a user restoring a session would). */
export function openTabs(context, baseUrl, app, n, options) {
  return Promise.all(Array.from({ length: n }, () => openTab(context, baseUrl, app, options)));
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

/** Crashes `page`'s renderer (CDP `Page.crash`) and closes what is left of it. */
export async function crash(context, page) {
  await (await armCrash(context, page))();
  await page.close().catch(() => {});
}

/**
 * Readies a crash of `page`'s renderer, for when its moment matters: opens the DevTools session
 * now and resolves to a function that sends CDP `Page.crash` at once and returns a promise of
 * the page's `crash` event. The page is left open.
 */
export async function armCrash(context, page) {
  const cdp = await context.newCDPSession(page);
  const crashed = new Promise((resolve) => page.once('crash', resolve));
  return () => {
    // Page.crash never answers: the renderer is gone.
    cdp.send('Page.crash').catch(() => {});
    return crashed;
  };
}

/**
 * Holds `page`'s main thread busy for `ms` (as a wedged or frozen tab); resolves once the busy
 * loop has begun (the page says so on its console as it starts), so that nothing the test does
 * next can reach the page before it is stopped. An evaluate on the page meanwhile waits until it
 * is done.
 */
export async function holdBusy(page, ms) {
  const BUSY = 'tabworker-test: the main thread is held busy';
  const started = page.waitForEvent('console', { predicate: (message) => message.text() === BUSY, timeout: 10_000 });
  await page.evaluate(
    ([ms, busy]) => {
      setTimeout(() => {
        console.log(busy);
        const end = Date.now() + ms;
        while (Date.now() < end);
      }, 0);
    },
    [ms, BUSY],
  );
  await started;
}

/** A round trip to the backend over the tab's session; the backend's answer. */
export function echo(page, value = Math.random()) {
  return page.evaluate((value) => window.ask({ op: 'echo', value }, 3000), value);
}

// Keyed backends (see fixtures/keyed-backend-common.js and the helpers at the
// end of fixtures/tab.html).

const FIXTURES = '/tests/browser/fixtures';

/** Client options of the keyed-backend tests: the untagged backend and three tags. */
export const KEYED_OPTIONS = Object.freeze({
  backend: `${FIXTURES}/keyed-backend.js`,
  backends: {
    alpha: `${FIXTURES}/keyed-backend.js`,
    beta: `${FIXTURES}/keyed-backend-b.js`,
    declared: `${FIXTURES}/keyed-backend-declared.js`,
  },
});

/**
 * `n` tabs of a fresh app with the keyed options (and `options`) in a new BrowserContext, once one
 * leads: `{ context, pages, leaderIndex, leader, followers, follower }` (`follower`: the first).
 * The caller closes `context`; a set-up that fails closes it here.
 */
export async function keyedTabs(env, prefix, n, options = {}) {
  const context = await env.browser.newContext();
  try {
    const pages = await openTabs(context, env.server.url, uniqueApp(prefix), n, { ...KEYED_OPTIONS, ...options });
    const leaderIndex = await oneLeader(pages);
    const followers = pages.filter((_, i) => i !== leaderIndex);
    return { context, pages, leaderIndex, leader: pages[leaderIndex], followers, follower: followers[0] };
  } catch (error) {
    await context.close();
    throw error;
  }
}

/** `client.connect(request)` in `page`: `{ value }` (the ConnectResponse) or `{ error: { name, code, message } }`. */
export function connect(page, request) {
  return page.evaluate((request) => window.settle(window.client.connect(request)), request);
}

/** `client.connect(request)` in `page` that must succeed; the ConnectResponse. */
export async function connectOk(page, request) {
  const { value, error } = await connect(page, request);
  if (error) throw new Error(`connect(${JSON.stringify(request)}) failed: ${error.code}: ${error.message}`);
  return value;
}

/** `client.open(url)` in `page`, kept under `name`: `{ id, backendId }`. */
export function openSession(page, url, name) {
  return page.evaluate(([url, name]) => window.openKeyed(url, name), [url, name]);
}

/** One question on the keyed session `name` of `page`; the backend's answer. */
export function talk(page, name, message, timeoutMs = 3000) {
  return page.evaluate(([name, message, timeoutMs]) => window.talk(name, message, timeoutMs), [name, message, timeoutMs]);
}

/** Starts `client.statusStream(target)` in `page`, logged under `name`. */
export function watch(page, target, name) {
  return page.evaluate(([target, name]) => window.watch(target, name), [target, name]);
}

/** The states the stream `name` of `page` delivered so far. */
export function statusLog(page, name) {
  return page.evaluate((name) => window.statusLogs[name] ?? [], name);
}

/** Waits until the stream `name` of `page` delivered a state of `status`; the log up to then. */
export function waitForStatus(page, name, status, { timeout = 5000 } = {}) {
  return waitUntil(
    async () => {
      const log = await statusLog(page, name);
      return log.some((s) => s.status === status) ? log : null;
    },
    { timeout, what: `status ${status} on stream ${name}` },
  );
}

/** Names of the backend-worker liveness locks held in the app's origin, seen from `page`. */
export function heldLiveness(page) {
  return page.evaluate(() => window.heldLiveness());
}

/** Where `buildReactPage()` writes the React test page (tests/browser/react/). */
export const REACT_OUT = 'target/react-test';

/** Builds the React test page with Vite, in React's development mode (StrictMode double-mounts only there). */
export async function buildReactPage() {
  const { build } = await import('vite');
  const { join } = await import('node:path');
  const { root } = await import('../../scripts/build.mjs');
  await build({
    root: join(root, 'tests/browser/react'),
    base: './',
    mode: 'development',
    define: { 'process.env.NODE_ENV': JSON.stringify('development') },
    logLevel: 'warn',
    build: { outDir: join(root, REACT_OUT), emptyOutDir: true, target: 'es2022' },
  });
}

/**
 * Opens the React test page for `app` (`query`: more of its parameters) and waits until
 * `useReady()` said true; the page's state is `window.page`.
 */
export async function openReactTab(context, baseUrl, app, query = {}) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  const params = new URLSearchParams({ app, ...query });
  await page.goto(`${baseUrl}/${REACT_OUT}/index.html?${params}`);
  await waitUntil(() => page.evaluate(() => window.page?.readyLog.includes(true)), { timeout: 10_000, what: 'useReady() to say true' });
  page.errors = errors;
  return page;
}
