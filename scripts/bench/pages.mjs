// The page helpers of scripts/bench.mjs and the fixtures and timings its
// groups share: pages whose console problems are counted, the test tab of
// the browser tests (tests/browser/fixtures/tab.html) with one round trip
// done, and bare tabs that load and run the package as an app's page would.
import { openTab as openTestTab, waitUntil } from '../../tests/browser/harness.mjs';

export const ECHO_BACKEND = '/tests/browser/fixtures/echo-backend.js';
export const API_BACKEND = '/tests/browser/fixtures/api-backend.js';
export const CLIENT_OPTIONS = { coordinator: '/www/coordinator.js', backend: ECHO_BACKEND };
/** The api backend as the default backend, and as the script of the tag `api` for keyed ones. */
export const API_OPTIONS = { coordinator: '/www/coordinator.js', backend: API_BACKEND, backends: { api: API_BACKEND } };
/** The raw round trip each backend answers on a session's port: `{ op, value, i: value }` comes back with the same op. */
export const ECHO_OP = 'echo';
export const API_OP = 'raw-echo';
/** Any same-origin document will do to run a client by hand; this one is served as text/plain. */
export const BLANK = '/pkg/tabworker.d.ts';

/** How long the remaining tabs may take to reconnect before the run counts as failed. */
export const FAILOVER_TIMEOUT_MS = 10_000;
/** How long any one step in a page (a join, a connect, a ready, a block of round trips) may take. */
export const STEP_TIMEOUT_MS = 15_000;
/** Quiet time before each measurement, so set-up work (wasm tier-up, GC) settles. */
export const SETTLE_MS = 200;
/** Quiet time after workers were started, before memory or idleness is measured. */
export const IDLE_SETTLE_MS = 1000;
/** Tabs opened at once when an app has many (opening 32 at once starves a 2-core machine). */
const OPEN_BATCH = 8;
/** Keyed backends connected at once (a tab may keep 64 connects waiting at the coordinator). */
const SPAWN_BATCH = 16;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let pageProblems = 0;
/** How many console errors, warnings and uncaught errors the pages of newPage have had so far. */
export const pageProblemCount = () => pageProblems;

/** A new page of `context` whose console errors, warnings and uncaught errors go to stderr. */
export async function newPage(context, label) {
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    const { url } = message.location();
    // The browser's own favicon request 404s (the server has none): not a tabworker problem.
    if (url.endsWith('/favicon.ico')) return;
    pageProblems += 1;
    console.error(`[${label} console.${message.type()}] ${message.text()}${url ? ` (${url})` : ''}`);
  });
  page.on('pageerror', (error) => {
    pageProblems += 1;
    console.error(`[${label} pageerror] ${error.stack ?? error}`);
  });
  return page;
}

/**
 * Opens a test tab of `app` (the harness's, in a page of newPage; `options`,
 * if given, are more options of its `Client`). With `warm`, the default,
 * waits until its session answers a round trip.
 */
export async function openTab(context, url, app, label, { options, warm = true } = {}) {
  const page = await openTestTab(context, url, app, options, await newPage(context, label));
  if (warm) await page.evaluate(() => window.ask({ op: 'echo', value: 'warm' }, 5000));
  return page;
}

/** Waits until `page`, the first tab of its app, leads. */
export function firstLeads(page) {
  return waitUntil(() => page.evaluate(() => window.client.role === 'leader'), { what: 'the first tab to lead' });
}

/**
 * Gives a page of BLANK the bench's helpers, each bounded by STEP_TIMEOUT_MS:
 * `within(promise, what)` rejects if `promise` takes longer; `trip(port, op,
 * value)` posts `{ op, value, i: value }` on `port` and resolves at the
 * backend's answer with the same op and value; `loadPackage()` imports and
 * initialises the page's module into `window.Client`.
 */
export function installHelpers(page) {
  return page.evaluate((timeoutMs) => {
    window.within = (promise, what, ms = timeoutMs) => {
      let timer;
      const late = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
      });
      return Promise.race([promise, late]).finally(() => clearTimeout(timer));
    };
    window.trip = (port, op, value) =>
      window.within(
        new Promise((resolve) => {
          const on = ({ data }) => {
            if (data?.op !== op || (data.value ?? data.i) !== value) return;
            port.removeEventListener('message', on);
            resolve();
          };
          port.addEventListener('message', on);
          port.start();
          port.postMessage({ op, value, i: value });
        }),
        `a ${op} round trip`,
      );
    window.loadPackage = async () => {
      const { default: init, Client } = await import('/pkg/tabworker.js');
      await init();
      window.Client = Client;
    };
  }, STEP_TIMEOUT_MS);
}

/** A new page of BLANK with the bench's helpers and the package loaded (not yet used). */
export async function packagePage(context, url, label) {
  const page = await newPage(context, label);
  await page.goto(`${url}${BLANK}`);
  await installHelpers(page);
  await page.evaluate(() => window.loadPackage());
  return page;
}

/**
 * A bare tab of `app`, as an app's page would be (no test instrumentation):
 * `window.client` initialised with `options`, `window.port` its first
 * session's port, which answered one round trip of `op`; with `api`,
 * `window.api` the default backend's SessionBackend, ready.
 */
export async function openBareTab(context, url, { app, options, op, api = false, label }) {
  const page = await packagePage(context, url, label);
  await page.evaluate(
    async ({ app, options, op, api }) => {
      window.client = new window.Client({ ...options, name: app });
      await window.within(window.client.initialize(), 'initialize()');
      window.port = (await window.within(window.client.connected(), 'a session')).port;
      await window.trip(window.port, op, 'warm');
      if (api) {
        window.api = window.client.backend();
        await window.within(window.api.ready(), 'the default backend ready');
      }
    },
    { app, options, op, api },
  );
  return page;
}

/**
 * Opens `count` bare tabs of `app`, OPEN_BATCH at a time; the first one alone
 * first, so that it leads. Resolves to the pages, the leader first.
 */
export async function openBareTabs(context, url, { app, options, op, count, label }) {
  const first = await openBareTab(context, url, { app, options, op, label: `${label}, tab 0` });
  await firstLeads(first);
  const pages = [first];
  for (let i = 1; i < count; i += OPEN_BATCH) {
    const batch = Array.from({ length: Math.min(OPEN_BATCH, count - i) }, (_, j) =>
      openBareTab(context, url, { app, options, op, label: `${label}, tab ${i + j}` }),
    );
    pages.push(...(await Promise.all(batch)));
  }
  return pages;
}

/**
 * In `page` (a bare tab that leads): connects the keys `idle-<from>` up to
 * `idle-<to - 1>` with `spawn: { tag: 'api' }`, SPAWN_BATCH at a time, and
 * waits until each backend is ready. No session is opened: they are idle.
 */
export function spawnIdle(page, from, to) {
  return page.evaluate(
    async ({ from, to, batch }) => {
      for (let k = from; k < to; k += batch) {
        const keys = Array.from({ length: Math.min(batch, to - k) }, (_, j) => `idle-${k + j}`);
        await Promise.all(
          keys.map(async (key) => {
            const response = await window.within(window.client.connect({ key, spawn: { tag: 'api' } }), `connect ${key}`);
            await window.within(window.client.ready(response.ready_url), `${key} ready`);
          }),
        );
      }
    },
    { from, to, batch: SPAWN_BATCH },
  );
}
