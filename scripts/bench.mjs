// Benchmarks of tabworker in headless Chromium. Every figure is printed
// beside its raw browser counterpart, measured in the same run, and their
// ratio; nothing is asserted. The last lines say which targets this run met.
//
//   node scripts/bench.mjs [--runs N] [--only GROUP[,GROUP…]] [--baseline DIR]
//
// N (default 20) is the number of runs of each figure; the groups that are
// slow by nature take fewer, and their lines say how many:
//
//   failover        the leader tab closed, with 2, 4 and 8 tabs open (N runs each)
//   crash           the leader tab's renderer crashed (CDP Page.crash), 2, 4 and 8 tabs (N runs each)
//   join            a new tab joining an app whose leader is ready (N runs)
//   cold            the first tab of a fresh app, in a fresh BrowserContext (N runs)
//   connect         connectBackend() to a live key and to a new key (N runs each)
//   api             request() round trips and send() events per second (min(N, 10) runs)
//   bytes           a 1 MiB ArrayBuffer transferred to the backend and back (min(N, 10) runs)
//   scale           both of:
//     scale-tabs      request(), join and failover with 2, 4, 8 tabs (N/2 runs) and 32 tabs (N/4 runs)
//     scale-backends  request(), failover and the leader's idle main thread with 1 and 16 (N/4 runs)
//                     and 64 (N/7 runs) idle keyed backends in the leader tab
//   memory          V8 heaps and process memory per idle keyed backend and per connected tab (N/10 runs)
//   size            the package's modules, raw and gzipped, and what their wasm is made of
//
// What each measures, and its raw counterpart (the raw floors are measured
// first, in the same browser):
//
// - Failover (close or crash): from the moment the leader tab is closed (or
//   its renderer crashed) until EVERY remaining tab has done one round trip
//   to the backend over its new session. Raw: a Web Lock handed to a waiting
//   page when its holder's page closes (or its renderer crashes), plus a bare
//   module worker's start. A crash also says how often the coordinator's
//   SharedWorker died with the leader (it lives in one tab's renderer).
// - Join: from `client.initialize()` in a fresh page that has loaded the
//   package (not timed) until the first round trip over its session, with
//   `new Client()` before it printed apart; then a second client in the same
//   page, once everything is compiled ("join again"). Raw: a connect to a
//   running SharedWorker, together with a lock grant.
// - Cold start: the same, for the first tab of a fresh app in a fresh
//   BrowserContext: the coordinator and the default backend start, load and
//   compile their wasm on the clock. Raw: a new SharedWorker (from a blob, so
//   no script is fetched) to its first message, together with a lock grant,
//   and beside it that plus a bare worker's start.
// - Connect: in a follower tab, from `client.connectBackend({ key, spawn })`
//   until `handle.ready()` resolved (and, beside it, until a first request()
//   was answered): to a key whose backend is live, and to a new key, whose
//   backend the leader starts in a new worker. Raw: a bare module worker's
//   start, and for the live key also the raw join.
// - API (one bare follower page, over the default backend's session, the raw
//   side on the same MessagePort): request() round trips beside a raw echo,
//   in alternating blocks of 50; events per second of send() beside raw
//   postMessage; a 1 MiB ArrayBuffer sent with `send('bytes', buffer,
//   [buffer])` and transferred back as an event, beside the same buffer
//   transferred there and back by raw postMessage, in alternating blocks.
// - Scale, tabs: in one app of N bare tabs (the api backend as the default
//   backend), a follower's request() round trip beside the raw echo, the join
//   of one more tab, then a failover by close. The 32-tab figures are printed
//   as ratios to the 4-tab ones.
// - Scale, backends: 4 tabs, the leader running K idle keyed backends (each
//   in its own worker, no session open): a follower's request() beside the
//   raw echo, the leader's main-thread busy time while nothing happens (CDP
//   Performance.getMetrics, TaskDuration less DevTools' own commands, per
//   second, over 2 s) beside a bare page's in the same 2 s, the CPU time of
//   all Chromium's processes meanwhile, then a failover by close, beside
//   the raw floor and beside a raw hand-off from a page that runs K bare
//   module workers (plus a worker start).
// - Memory: summed over the context's pages and workers, each after a GC:
//   the V8 heap used and the backing stores V8 counts (CDP
//   Runtime.getHeapUsage), and the size of every WebAssembly.Memory (CDP
//   Runtime.queryObjects); and the private memory of all Chromium's
//   processes (/proc, Linux only). Read as the leader goes from 1 to 16 to
//   64 idle keyed backends (per backend) and as 4 follower tabs join (per
//   tab). Raw: the same steps with bare module workers in a bare page, and
//   bare pages.
//
// --baseline DIR: another checkout of tabworker with its package built (for
// example a git worktree of an older commit). Failover and join are then
// measured for both builds in the same run, turn about, and printed side by
// side with both packages' sizes; the other groups measure this build only.
//
// Size: the package's wasm and JS, raw and gzipped, and a breakdown of the
// wasm by twiggy (`cargo install twiggy --locked`): the page's bytes by kind
// (code, data, imports, …), and each role's code by crate and by function
// (read from the build before wasm-opt, which still has the function names).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, waitUntil } from '../tests/browser/harness.mjs';
import { readSettings, root } from './build.mjs';
import { packageSize, sizeLines } from './bench/size.mjs';
import { startServer } from './serve.mjs';

const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, only: { type: 'string' }, baseline: { type: 'string' } },
});
const RUNS = Number(args.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs must be a positive integer, not "${args.runs}"`);
const GROUPS = ['failover', 'crash', 'join', 'cold', 'connect', 'api', 'bytes', 'scale-tabs', 'scale-backends', 'memory', 'size'];
/** `--only` names: a group, `scale` for both scale groups, or a comma-separated list of them. */
const only = args.only === undefined ? GROUPS : args.only.split(',').flatMap((g) => (g === 'scale' ? ['scale-tabs', 'scale-backends'] : [g]));
for (const group of only) {
  if (!GROUPS.includes(group)) throw new Error(`--only takes ${[...GROUPS, 'scale'].map((g) => `"${g}"`).join(', ')} (or a comma-separated list), not "${group}"`);
}
const on = (group) => only.includes(group);

const TAB_COUNTS = on('failover') ? [2, 4, 8] : [];
const CRASH_TAB_COUNTS = on('crash') ? [2, 4, 8] : [];
/** Fewer runs for the slow cases: N / `divisor`, at least 2 (or N if that is less). */
const fewer = (divisor) => Math.min(RUNS, Math.max(2, Math.ceil(RUNS / divisor)));
/** Tab counts of the tab scaling, with their runs. */
const SCALE_TABS = on('scale-tabs') ? [[2, fewer(2)], [4, fewer(2)], [8, fewer(2)], [32, fewer(4)]] : [];
/** Idle keyed backend counts of the backend scaling, with their runs. */
const SCALE_BACKENDS = on('scale-backends') ? [[1, fewer(4)], [16, fewer(4)], [64, fewer(7)]] : [];
const MEMORY_RUNS = Math.min(RUNS, Math.max(1, Math.ceil(RUNS / 10)));
/** Round trips per run of the request benchmark, and events per run of the throughput one. */
const ROUND_TRIPS = 500;
const EVENTS = 20_000;
/** Round trips per run of the request benchmark inside the scaling runs. */
const SCALE_TRIPS = 200;
/** The transferred buffer's size, and round trips of it per run (in alternating blocks of BYTES_BLOCK). */
const BYTES = 1 << 20;
const BYTES_TRIPS = 100;
const BYTES_BLOCK = 10;
/** How long the remaining tabs may take to reconnect before the run counts as failed. */
const FAILOVER_TIMEOUT_MS = 10_000;
/** How long any one step in a page (a join, a connect, a ready, a block of round trips) may take. */
const STEP_TIMEOUT_MS = 15_000;
/** Quiet time before each measurement, so set-up work (wasm tier-up, GC) settles. */
const SETTLE_MS = 200;
/** Quiet time after workers were started, before memory or idleness is measured. */
const IDLE_SETTLE_MS = 1000;
/** How long the leader's main thread is watched while idle. */
const IDLE_MS = 2000;
/** Tabs opened at once when an app has many (opening 32 at once starves a 2-core machine). */
const OPEN_BATCH = 8;
/** Follower tabs that join in the memory benchmark. */
const MEMORY_TABS = 4;
/** Keyed backends connected at once (a tab may keep 64 connects waiting at the coordinator). */
const SPAWN_BATCH = 16;
const TARGETS = { failover4: 150, failover4Ratio: 1.5, join: 5, requestRatio: 1.25, eventRatio: 0.8, scaleRatio: 1.2 };

const TAB = '/tests/browser/fixtures/tab.html';
const ECHO_BACKEND = '/tests/browser/fixtures/echo-backend.js';
const API_BACKEND = '/tests/browser/fixtures/api-backend.js';
const CLIENT_OPTIONS = { coordinator: '/www/coordinator.js', backend: ECHO_BACKEND };
/** The api backend as the default backend, and as the script of the tag `api` for keyed ones. */
const API_OPTIONS = { coordinator: '/www/coordinator.js', backend: API_BACKEND, backends: { api: API_BACKEND } };
/** The raw round trip each backend answers on a session's port: `{ op, value, i: value }` comes back with the same op. */
const ECHO_OP = 'echo';
const API_OP = 'raw-echo';
/** Any same-origin document will do to run a client by hand; this one is served as text/plain. */
const BLANK = '/pkg/tabworker.d.ts';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let pageProblems = 0;

/** A new page of `context` whose console errors, warnings and uncaught errors go to stderr. */
async function newPage(context, label) {
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

/** Opens a test tab of `app` and waits until its session answers a round trip. */
async function openTab(context, url, app, label) {
  const page = await newPage(context, label);
  await page.goto(`${url}${TAB}?app=${encodeURIComponent(app)}`);
  await page.evaluate(() => window.ready);
  await page.evaluate(() => window.ask({ op: 'echo', value: 'warm' }, 5000));
  return page;
}

/**
 * Gives a page of BLANK the bench's helpers, each bounded by STEP_TIMEOUT_MS:
 * `within(promise, what)` rejects if `promise` takes longer; `trip(port, op,
 * value)` posts `{ op, value, i: value }` on `port` and resolves at the
 * backend's answer with the same op and value; `loadPackage()` imports and
 * initialises the page's module into `window.Client`.
 */
function installHelpers(page) {
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
async function packagePage(context, url, label) {
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
async function openBareTab(context, url, { app, options, op, api = false, label }) {
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
async function openBareTabs(context, url, { app, options, op, count, label }) {
  const first = await openBareTab(context, url, { app, options, op, label: `${label}, tab 0` });
  await waitUntil(() => first.evaluate(() => window.client.role === 'leader'), { what: 'the first tab to lead' });
  const pages = [first];
  for (let i = 1; i < count; i += OPEN_BATCH) {
    const batch = Array.from({ length: Math.min(OPEN_BATCH, count - i) }, (_, j) =>
      openBareTab(context, url, { app, options, op, label: `${label}, tab ${i + j}` }),
    );
    pages.push(...(await Promise.all(batch)));
  }
  return pages;
}

/** The one page of `pages` that leads (waiting until exactly one does). */
function leaderOf(pages) {
  return waitUntil(
    async () => {
      const roles = await Promise.all(pages.map((page) => page.evaluate(() => window.client.role)));
      const leaders = pages.filter((_, i) => roles[i] === 'leader');
      return leaders.length === 1 ? leaders[0] : null;
    },
    { what: 'exactly one leader' },
  );
}

/**
 * Times a failover: `leader` is closed (`how` = 'close') or its renderer
 * crashed ('crash'), and the time runs until every page of `others` did one
 * round trip of `op` over a session of a newer epoch. Resolves to `{ ms,
 * coordinatorLost }` (whether the coordinator was replaced meanwhile), or
 * throws if a tab had no working session within FAILOVER_TIMEOUT_MS.
 */
async function timeFailover(context, leader, others, { how, op, label }) {
  // Every remaining tab arms a watcher: on the first session of a newer
  // epoch it does one round trip right away on that session's port and
  // records when the answer came, as wall-clock-aligned high resolution
  // time. Sessions that die before answering are replaced by the next newer
  // one. The watcher gives up by itself after the timeout, so nothing here
  // can hang.
  const coordinatorBefore = await others[0].evaluate(() => window.client.coordinatorId);
  await Promise.all(
    others.map((page) =>
      page.evaluate(
        ({ timeoutMs, op }) => {
          const client = window.client;
          const before = client.session.epoch;
          window.benchFailover = new Promise((resolve) => {
            let sessions = 0;
            const finish = (result) => {
              clearTimeout(timer);
              client.removeEventListener('session', onSession);
              resolve(result);
            };
            const timer = setTimeout(() => finish({ done: null, sessions, epoch: client.epoch }), timeoutMs);
            const onSession = ({ detail: { epoch, port } }) => {
              if (epoch <= before) return;
              sessions += 1;
              const value = `failover-${epoch}-${sessions}`;
              port.addEventListener('message', ({ data }) => {
                if (data?.op === op && (data.value ?? data.i) === value) {
                  finish({ done: performance.timeOrigin + performance.now(), sessions, epoch });
                }
              });
              port.start();
              port.postMessage({ op, value, i: value });
            };
            client.addEventListener('session', onSession);
          });
        },
        { timeoutMs: FAILOVER_TIMEOUT_MS, op },
      ),
    ),
  );

  // A crash goes through a DevTools session opened before the clock starts.
  const cdp = how === 'crash' ? await context.newCDPSession(leader) : null;
  const crashed = how === 'crash' ? new Promise((resolve) => leader.once('crash', resolve)) : null;
  await sleep(SETTLE_MS);
  // The start is taken inside the leader page, on the same clock as the
  // completions; the evaluate round trip between it and close() or
  // Page.crash costs well under 1 ms.
  const start = await leader.evaluate(() => performance.timeOrigin + performance.now());
  if (how === 'crash') {
    // Page.crash never answers: the renderer is gone.
    cdp.send('Page.crash').catch(() => {});
  } else {
    await leader.close();
  }
  const results = await Promise.all(others.map((page) => page.evaluate(() => window.benchFailover)));
  if (how === 'crash') {
    await Promise.race([crashed, sleep(FAILOVER_TIMEOUT_MS)]);
    await leader.close().catch(() => {});
  }

  const late = results.filter((r) => r.done === null).length;
  if (late) throw new Error(`${late} of ${others.length} tabs had no working session after ${FAILOVER_TIMEOUT_MS} ms`);
  const retried = results.filter((r) => r.sessions > 1).length;
  if (retried) console.error(`note: ${label}: ${retried} tab(s) needed more than one new session`);
  const coordinatorAfter = await others[0].evaluate(() => window.client.coordinatorId);
  return { ms: Math.max(...results.map((r) => r.done)) - start, coordinatorLost: coordinatorAfter !== coordinatorBefore };
}

/**
 * One failover run with `tabs` test tabs (the echo backend) in a fresh
 * context, the leader ended by `how` ('close' or 'crash'). Resolves to
 * `{ ms, coordinatorLost }`, or throws (the run then counts as failed).
 */
async function failoverRun(browser, url, { tabs, how, run }) {
  const context = await browser.newContext();
  try {
    const app = `bench-${Date.now()}-${how}-${tabs}-${run}`;
    const label = `${how} failover ${tabs} tabs, run ${run}`;
    const pages = await Promise.all(Array.from({ length: tabs }, (_, i) => openTab(context, url, app, `${label}, tab ${i}`)));
    const leader = await leaderOf(pages);
    return await timeFailover(context, leader, pages.filter((page) => page !== leader), { how, op: ECHO_OP, label });
  } finally {
    await context.close();
  }
}

/**
 * One join in a fresh page of `context` that has loaded the package (not
 * timed): a new client of `app` with `options`, from `initialize()` to its
 * first round trip of `op`; the page is closed after. Resolves to `{ total,
 * initialize }` in ms.
 */
async function timeJoin(context, url, { app, options, op, label, again = false }) {
  const page = await packagePage(context, url, label);
  try {
    await sleep(SETTLE_MS);
    const join = (app, options, op) =>
      page.evaluate(
        async ({ app, options, op }) => {
          const made = performance.now();
          const client = new window.Client({ ...options, name: app });
          try {
            const t0 = performance.now();
            await window.within(client.initialize(), 'initialize()');
            const initialized = performance.now();
            const { port } = await window.within(client.connected(), 'a session');
            await window.trip(port, op, 'join');
            const t1 = performance.now();
            return { total: t1 - t0, initialize: initialized - t0, construct: t0 - made };
          } finally {
            await window.within(client.destroy(), 'destroy()').catch(() => {});
          }
        },
        { app, options, op },
      );
    const first = await join(app, options, op);
    if (!again) return first;
    // The same join once more in this page: its code is compiled now, and its Web Locks connection open.
    await sleep(SETTLE_MS);
    return { ...first, again: (await join(app, options, op)).total };
  } finally {
    await page.close();
  }
}

/**
 * Join times, in ms: one tab of a fresh app leads and serves; then `runs`
 * times a fresh page loads the package (not timed) and times a new client
 * from `initialize()` to its first round trip, then leaves.
 */
async function joinRuns(browser, url, runs) {
  const context = await browser.newContext();
  try {
    const app = `bench-${Date.now()}-join`;
    const leader = await openTab(context, url, app, 'join leader');
    await waitUntil(() => leader.evaluate(() => window.client.role === 'leader'), { what: 'the first tab to lead' });
    const samples = [];
    const initializeOnly = [];
    const construct = [];
    const again = [];
    const failures = [];
    // Run 0 warms up the browser's caches and is not counted.
    for (let run = 0; run <= runs; run += 1) {
      try {
        const result = await timeJoin(context, url, {
          app,
          options: CLIENT_OPTIONS,
          op: ECHO_OP,
          label: `join run ${run}`,
          again: true,
        });
        if (run > 0) {
          samples.push(result.total);
          initializeOnly.push(result.initialize);
          construct.push(result.construct);
          again.push(result.again);
        }
      } catch (error) {
        failures.push(`run ${run}: ${error.message}`);
      }
    }
    return { samples, initializeOnly, construct, again, failures };
  } finally {
    await context.close();
  }
}

/**
 * One cold start, in a fresh context: a page loads the package (not timed);
 * then a client of a fresh app, from `initialize()` until its session
 * answered a round trip: the coordinator's SharedWorker and the default
 * backend's worker start, fetch and compile on the clock. Resolves to
 * `{ total, initialize }` in ms.
 */
async function coldRun(browser, url, run) {
  const context = await browser.newContext();
  try {
    const app = `bench-${Date.now()}-cold-${run}`;
    return await timeJoin(context, url, { app, options: CLIENT_OPTIONS, op: ECHO_OP, label: `cold run ${run}` });
  } finally {
    await context.close();
  }
}

/**
 * The raw cold start, in a fresh context: in a fresh page, a new SharedWorker
 * (its script a blob, so nothing is fetched) until its first message,
 * together with the page's first lock grant. Resolves to ms.
 */
async function coldRawRun(browser, url, run) {
  const context = await browser.newContext();
  try {
    const page = await newPage(context, `raw cold run ${run}`);
    await page.goto(`${url}${BLANK}`);
    await installHelpers(page);
    await sleep(SETTLE_MS);
    return await page.evaluate(async (name) => {
      const script = URL.createObjectURL(new Blob(['onconnect = (event) => event.ports[0].postMessage(1)'], { type: 'text/javascript' }));
      const t = performance.now();
      const connected = new Promise((resolve) => {
        const worker = new SharedWorker(script, { type: 'module', name });
        worker.port.onmessage = () => resolve();
        worker.port.start();
      });
      await window.within(Promise.all([connected, navigator.locks.request(name, () => {})]), 'a new SharedWorker and a lock');
      return performance.now() - t;
    }, `bench-raw-cold-${Date.now()}-${run}`);
  } finally {
    await context.close();
  }
}

/**
 * Connect times, in ms, from a bare follower tab: `runs` times (after one
 * warm-up) and turn about, `connectBackend({ key, spawn: { tag: 'api' } })`
 * to a key whose backend is live, and to a new key (the leader starts its
 * worker; it is terminated after), each until `ready()` resolved and until
 * a first `request()` was answered.
 */
async function connectRuns(browser, url, runs) {
  const context = await browser.newContext();
  const figures = { live: [], liveRequest: [], fresh: [], freshRequest: [], failures: [] };
  try {
    const app = `bench-${Date.now()}-connect`;
    await openBareTabs(context, url, { app, options: API_OPTIONS, op: API_OP, count: 1, label: 'connect leader' });
    const follower = await openBareTab(context, url, { app, options: API_OPTIONS, op: API_OP, label: 'connect follower' });
    // The live key's backend runs from now on.
    await follower.evaluate(async () => {
      const handle = await window.within(window.client.connectBackend({ key: 'live', spawn: { tag: 'api' } }), 'connect to live');
      await window.within(handle.ready(), 'live ready');
      handle.destroy();
    });
    for (let run = 0; run <= runs; run += 1) {
      for (const kind of run % 2 ? ['fresh', 'live'] : ['live', 'fresh']) {
        await sleep(SETTLE_MS);
        try {
          const key = kind === 'live' ? 'live' : `fresh-${run}`;
          const result = await follower.evaluate(async (key) => {
            const t0 = performance.now();
            const handle = await window.within(window.client.connectBackend({ key, spawn: { tag: 'api' } }), `connect to ${key}`);
            await window.within(handle.ready(), `${key} ready`);
            const ready = performance.now() - t0;
            await window.within(handle.request('echo', 1), `a request to ${key}`);
            const request = performance.now() - t0;
            const { backendId } = handle;
            handle.destroy();
            return { ready, request, backendId };
          }, key);
          if (kind === 'fresh') {
            await follower.evaluate((id) => window.within(window.client.terminate(id), 'terminate'), result.backendId);
          }
          if (run === 0) continue;
          figures[kind].push(result.ready);
          figures[`${kind}Request`].push(result.request);
        } catch (error) {
          figures.failures.push(`${kind} run ${run}: ${error.message}`);
          console.error(`connect ${kind} run ${run} failed: ${error.message}`);
        }
      }
    }
    return figures;
  } finally {
    await context.close();
  }
}

/**
 * In `page` (a bare tab with `window.api` and `window.port` on one session):
 * `trips` round trips of `request('echo')` and as many raw `raw-echo` ones,
 * in alternating blocks of 50. Resolves to the median block mean of each, in
 * ms: `{ request, raw }`.
 */
function measureRequests(page, trips) {
  return page.evaluate(async (trips) => {
    const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const { api, port } = window;
    // A bare round trip: no timer of its own (the whole run is bounded once, below).
    const rawOnce = (i) =>
      new Promise((resolve) => {
        const on = ({ data }) => {
          if (data?.op === 'raw-echo' && data.i === i) {
            port.removeEventListener('message', on);
            resolve();
          }
        };
        port.addEventListener('message', on);
        port.postMessage({ op: 'raw-echo', i });
      });
    // performance.now() is coarse (100 µs) in a page that is not cross-origin isolated:
    // each figure is the mean of a block of round trips, blocks alternating.
    const BLOCK = 50;
    const request = [];
    const raw = [];
    const run = async () => {
      for (let block = 0; block < trips / BLOCK; block += 1) {
        let t = performance.now();
        for (let i = 0; i < BLOCK; i += 1) await api.request('echo', i);
        request.push((performance.now() - t) / BLOCK);
        t = performance.now();
        for (let i = 0; i < BLOCK; i += 1) await rawOnce(i);
        raw.push((performance.now() - t) / BLOCK);
      }
    };
    await window.within(run(), `${trips} round trips`);
    return { request: median(request), raw: median(raw) };
  }, trips);
}

/**
 * In `page` (as for measureRequests): events per second of `send('count')`
 * and of raw `raw-count` posts, `events` of each, each timed until the
 * backend's answer to the last one. Resolves to `{ sendRate, rawRate }`.
 */
function measureEvents(page, events) {
  return page.evaluate(async (events) => {
    const { api, port } = window;
    const sendRate = await window.within(
      new Promise((resolve) => {
        const t = performance.now();
        const off = api.on('counted', () => {
          off();
          resolve(events / ((performance.now() - t) / 1000));
        });
        for (let i = 0; i < events; i += 1) api.send('count', { i, last: i === events - 1 });
      }),
      `${events} send()s`,
    );
    const rawRate = await window.within(
      new Promise((resolve) => {
        const t = performance.now();
        const on = ({ data }) => {
          if (data?.op !== 'raw-counted') return;
          port.removeEventListener('message', on);
          resolve(events / ((performance.now() - t) / 1000));
        };
        port.addEventListener('message', on);
        for (let i = 0; i < events; i += 1) port.postMessage({ op: 'raw-count', i, last: i === events - 1 });
      }),
      `${events} raw posts`,
    );
    return { sendRate, rawRate };
  }, events);
}

/**
 * In `page` (as for measureRequests): one ArrayBuffer of `size` bytes sent
 * `trips` times to the backend and back, transferred both ways, by
 * `send('bytes', buffer, [buffer])` (back as the event 'bytes-back') and by
 * raw `raw-bytes` posts, in alternating blocks of `block`. Resolves to the
 * median block mean of each, in ms: `{ api, raw }`; throws if a buffer was
 * copied rather than transferred, or came back of another size.
 */
function measureBytes(page, { trips, size, block }) {
  return page.evaluate(
    async ({ trips, size, block }) => {
      const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
      const { api, port } = window;
      let buffer = new ArrayBuffer(size);
      const check = (sent, back) => {
        if (sent.byteLength !== 0) throw new Error('the buffer was copied, not transferred');
        if (back.byteLength !== size) throw new Error(`a buffer of ${back.byteLength} bytes came back`);
      };
      const viaApi = () =>
        new Promise((resolve, reject) => {
          const sent = buffer;
          const off = api.on('bytes-back', (back) => {
            off();
            try {
              check(sent, back);
              buffer = back;
              resolve();
            } catch (error) {
              reject(error);
            }
          });
          api.send('bytes', sent, [sent]);
        });
      const viaRaw = () =>
        new Promise((resolve, reject) => {
          const sent = buffer;
          const on = ({ data }) => {
            if (data?.op !== 'raw-bytes') return;
            port.removeEventListener('message', on);
            try {
              check(sent, data.buffer);
              buffer = data.buffer;
              resolve();
            } catch (error) {
              reject(error);
            }
          };
          port.addEventListener('message', on);
          port.postMessage({ op: 'raw-bytes', buffer: sent }, [sent]);
        });
      const apiTimes = [];
      const rawTimes = [];
      const run = async () => {
        for (let b = 0; b < trips / block; b += 1) {
          let t = performance.now();
          for (let i = 0; i < block; i += 1) await viaApi();
          apiTimes.push((performance.now() - t) / block);
          t = performance.now();
          for (let i = 0; i < block; i += 1) await viaRaw();
          rawTimes.push((performance.now() - t) / block);
        }
      };
      await window.within(run(), `${trips} round trips of ${size} bytes`);
      return { api: median(apiTimes), raw: median(rawTimes) };
    },
    { trips, size, block },
  );
}

/**
 * The developer API beside the raw MessagePort, measured in one bare
 * follower tab over the same session (the default backend's, the api
 * backend), `runs` times after a warm-up run: with `requests`, the
 * request() and raw round trips and the send() and raw event rates; with
 * `bytes`, the 1 MiB transfer round trips. Resolves to arrays of each figure.
 */
async function apiRuns(browser, url, runs, { requests, bytes }) {
  const context = await browser.newContext();
  try {
    const app = `bench-${Date.now()}-api`;
    const options = encodeURIComponent(JSON.stringify({ backend: API_BACKEND }));
    const first = await newPage(context, 'api leader');
    await first.goto(`${url}${TAB}?app=${encodeURIComponent(app)}&options=${options}`);
    await first.evaluate(() => window.ready);
    await waitUntil(() => first.evaluate(() => window.client.role === 'leader'), { what: 'the first tab to lead' });
    // The measuring tab is a bare page (no test instrumentation), as an app's would be.
    const follower = await openBareTab(context, url, { app, options: API_OPTIONS, op: API_OP, api: true, label: 'api follower' });
    const figures = { request: [], raw: [], sendRate: [], rawRate: [], bytesApi: [], bytesRaw: [], failures: [] };
    // Run 0 warms up and is not counted.
    for (let run = 0; run <= runs; run += 1) {
      try {
        const result = {};
        if (requests) {
          await sleep(SETTLE_MS);
          Object.assign(result, await measureRequests(follower, ROUND_TRIPS));
          Object.assign(result, await measureEvents(follower, EVENTS));
        }
        if (bytes) {
          await sleep(SETTLE_MS);
          const { api, raw } = await measureBytes(follower, { trips: BYTES_TRIPS, size: BYTES, block: BYTES_BLOCK });
          Object.assign(result, { bytesApi: api, bytesRaw: raw });
        }
        if (run > 0) for (const [key, value] of Object.entries(result)) figures[key].push(value);
      } catch (error) {
        figures.failures.push(`run ${run}: ${error.message}`);
        console.error(`api run ${run} failed: ${error.message}`);
      }
    }
    return figures;
  } finally {
    await context.close();
  }
}

/**
 * One run of the tab scaling, in a fresh context: `tabs` bare tabs of one
 * app (the api backend as default backend); in a follower, the request()
 * round trip beside the raw echo; one more tab's join; then a failover by
 * closing the leader. Resolves to `{ request, raw, join, failover }` (ms).
 */
async function scaleTabsRun(browser, url, tabs, run) {
  const context = await browser.newContext();
  try {
    const app = `bench-${Date.now()}-scale-${tabs}-${run}`;
    const label = `scale ${tabs} tabs, run ${run}`;
    const pages = await openBareTabs(context, url, { app, options: API_OPTIONS, op: API_OP, count: tabs, label });
    const [leader, ...others] = pages;
    const measuring = others.at(-1);
    await measuring.evaluate(async () => {
      window.api = window.client.backend();
      await window.within(window.api.ready(), 'the default backend ready');
    });
    await measureRequests(measuring, ROUND_TRIPS); // a warm-up, not counted
    await sleep(SETTLE_MS);
    const { request, raw } = await measureRequests(measuring, SCALE_TRIPS);
    const join = await timeJoin(context, url, { app, options: API_OPTIONS, op: API_OP, label: `${label}, joining tab` });
    const { ms: failover } = await timeFailover(context, leader, others, { how: 'close', op: API_OP, label });
    return { request, raw, join: join.total, failover };
  } finally {
    await context.close();
  }
}

/**
 * In `page` (a bare tab that leads): connects the keys `idle-<from>` up to
 * `idle-<to - 1>` with `spawn: { tag: 'api' }`, SPAWN_BATCH at a time, and
 * waits until each backend is ready. No session is opened: they are idle.
 */
function spawnIdle(page, from, to) {
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

/**
 * Main-thread busy time of each of `pages` over IDLE_MS in which the bench
 * does nothing (CDP Performance.getMetrics: TaskDuration less the time of
 * DevTools' own commands, in ms per second; ScriptDuration likewise), and
 * the CPU time of all of Chromium's processes meanwhile (ms per second, or
 * null where /proc is not there).
 */
async function idleBusy(context, pages, inspector) {
  const sessions = await Promise.all(pages.map((page) => context.newCDPSession(page)));
  try {
    await Promise.all(sessions.map((s) => s.send('Performance.enable')));
    const read = () =>
      Promise.all(sessions.map(async (s) => Object.fromEntries((await s.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]))));
    const before = await read();
    const cpuBefore = await inspector.cpuMs();
    const t0 = performance.now();
    await sleep(IDLE_MS);
    const after = await read();
    const cpuAfter = await inspector.cpuMs();
    const seconds = (performance.now() - t0) / 1000;
    const delta = (i, name) => ((after[i][name] ?? 0) - (before[i][name] ?? 0)) * 1000;
    return {
      pages: pages.map((_, i) => ({
        task: (delta(i, 'TaskDuration') - delta(i, 'DevToolsCommandDuration')) / seconds,
        script: delta(i, 'ScriptDuration') / seconds,
      })),
      cpu: cpuBefore === null || cpuAfter === null ? null : (cpuAfter - cpuBefore) / seconds,
    };
  } finally {
    await Promise.all(sessions.map((s) => s.detach().catch(() => {})));
  }
}

/**
 * The raw lock hand-off from a page running `count` bare module workers, in
 * `context`: a bare page starts them (each a blob script that posts one
 * message and waits) and holds a lock, another waits for it; from the
 * holder's close until the grant, in ms.
 */
async function handoffWithWorkers(context, url, count, label) {
  const name = `bench-raw-workers-${Date.now()}-${count}`;
  const holder = await newPage(context, `${label}, raw holder`);
  const waiter = await newPage(context, `${label}, raw waiter`);
  try {
    await Promise.all([holder, waiter].map((page) => page.goto(`${url}${BLANK}`)));
    await Promise.all([holder, waiter].map(installHelpers));
    await holder.evaluate(
      async ({ count, name }) => {
        const script = URL.createObjectURL(new Blob(['postMessage(1)'], { type: 'text/javascript' }));
        window.workers = [];
        const started = Array.from(
          { length: count },
          () =>
            new Promise((resolve) => {
              const worker = new Worker(script, { type: 'module' });
              window.workers.push(worker);
              worker.onmessage = resolve;
            }),
        );
        await window.within(Promise.all(started), `${count} bare workers`);
        await new Promise((held) => navigator.locks.request(name, () => (held(), new Promise(() => {}))));
      },
      { count, name },
    );
    await waiter.evaluate((name) => {
      window.granted = new Promise((resolve) => navigator.locks.request(name, () => resolve(performance.timeOrigin + performance.now())));
    }, name);
    await sleep(IDLE_SETTLE_MS);
    const start = await holder.evaluate(() => performance.timeOrigin + performance.now());
    await holder.close();
    return (await waiter.evaluate(() => window.within(window.granted, 'the lock of a closed page'))) - start;
  } finally {
    await Promise.all([holder, waiter].map((page) => page.close().catch(() => {})));
  }
}

/**
 * One run of the backend scaling, in a fresh context: 4 bare tabs of one app,
 * the leader running `count` idle keyed backends; the leader's idle busy
 * time beside a bare page's, the request() round trip of a follower beside
 * the raw echo, then a failover by closing the leader, and after it the raw
 * hand-off from a page running `count` bare workers. Resolves to `{ request,
 * raw, leaderBusy, leaderScript, bareBusy, cpu, failover, rawHandoff }`.
 */
async function scaleBackendsRun(browser, url, inspector, count, run) {
  const context = await browser.newContext();
  try {
    const app = `bench-${Date.now()}-backends-${count}-${run}`;
    const label = `scale ${count} backends, run ${run}`;
    const pages = await openBareTabs(context, url, { app, options: API_OPTIONS, op: API_OP, count: 4, label });
    const [leader, ...others] = pages;
    const measuring = others.at(-1);
    await measuring.evaluate(async () => {
      window.api = window.client.backend();
      await window.within(window.api.ready(), 'the default backend ready');
    });
    await spawnIdle(leader, 0, count);
    const bare = await newPage(context, `${label}, bare page`);
    await bare.goto(`${url}${BLANK}`);
    await sleep(IDLE_SETTLE_MS);
    const busy = await idleBusy(context, [leader, bare], inspector);
    await bare.close();
    await measureRequests(measuring, ROUND_TRIPS); // a warm-up, not counted
    await sleep(SETTLE_MS);
    const { request, raw } = await measureRequests(measuring, SCALE_TRIPS);
    const { ms: failover } = await timeFailover(context, leader, others, { how: 'close', op: API_OP, label });
    await sleep(SETTLE_MS);
    const rawHandoff = await handoffWithWorkers(context, url, count, label);
    return {
      rawHandoff,
      request,
      raw,
      leaderBusy: busy.pages[0].task,
      leaderScript: busy.pages[0].script,
      bareBusy: busy.pages[1].task,
      cpu: busy.cpu,
      failover,
    };
  } finally {
    await context.close();
  }
}

/**
 * A browser-wide DevTools session that reaches every page, worker and
 * SharedWorker target (attached one at a time, not flattened, so that it
 * needs nothing of Playwright but its browser session), and reads Chromium's
 * processes from /proc.
 */
class Inspector {
  /** Opens the browser session of `browser`. */
  static async open(browser) {
    return new Inspector(await browser.newBrowserCDPSession());
  }

  constructor(cdp) {
    this.cdp = cdp;
    this.next = 0;
    /** Answers awaited from targets, by `${sessionId} ${id}`. */
    this.waiting = new Map();
    cdp.on('Target.receivedMessageFromTarget', ({ sessionId, message }) => {
      const { id, result, error } = JSON.parse(message);
      const settle = this.waiting.get(`${sessionId} ${id}`);
      if (!settle) return;
      this.waiting.delete(`${sessionId} ${id}`);
      settle(error ? new Error(`${error.message} (${error.code})`) : null, result);
    });
  }

  /** The browserContextId of `page` (of `context`). */
  async contextId(context, page) {
    const session = await context.newCDPSession(page);
    try {
      return (await session.send('Target.getTargetInfo')).targetInfo.browserContextId;
    } finally {
      await session.detach().catch(() => {});
    }
  }

  /** Calls `method` in the target attached as `sessionId`; rejects after STEP_TIMEOUT_MS. */
  call(sessionId, method, params = {}) {
    const id = (this.next += 1);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(`${sessionId} ${id}`);
        reject(new Error(`${method}: no answer within ${STEP_TIMEOUT_MS} ms`));
      }, STEP_TIMEOUT_MS);
      this.waiting.set(`${sessionId} ${id}`, (error, result) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(result);
      });
      this.cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) }).catch((error) => {
        clearTimeout(timer);
        this.waiting.delete(`${sessionId} ${id}`);
        reject(error);
      });
    });
  }

  /**
   * The heaps of every page, worker and SharedWorker of the browser context
   * `contextId`, each after a full GC, summed: `{ used, backing, wasm,
   * targets }`, in bytes: the V8 heap used; the backing stores V8 counts
   * (ArrayBuffers, external strings; not wasm memories); the size of every
   * WebAssembly.Memory found on the heaps (CDP Runtime.queryObjects).
   */
  async heaps(contextId) {
    const { targetInfos } = await this.cdp.send('Target.getTargets');
    const targets = targetInfos.filter((t) => t.browserContextId === contextId && ['page', 'worker', 'shared_worker'].includes(t.type));
    const each = await Promise.all(
      targets.map(async ({ targetId }) => {
        const { sessionId } = await this.cdp.send('Target.attachToTarget', { targetId, flatten: false });
        try {
          await this.call(sessionId, 'HeapProfiler.collectGarbage');
          const usage = await this.call(sessionId, 'Runtime.getHeapUsage');
          // Every WebAssembly.Memory on the heap, and the size of its buffer.
          const { result: prototype } = await this.call(sessionId, 'Runtime.evaluate', { expression: 'WebAssembly.Memory.prototype' });
          const { objects } = await this.call(sessionId, 'Runtime.queryObjects', { prototypeObjectId: prototype.objectId });
          const { result: wasm } = await this.call(sessionId, 'Runtime.callFunctionOn', {
            objectId: objects.objectId,
            functionDeclaration: 'function () { return this.reduce((sum, memory) => sum + memory.buffer.byteLength, 0); }',
            returnByValue: true,
          });
          return { ...usage, wasm: wasm.value };
        } finally {
          await this.cdp.send('Target.detachFromTarget', { sessionId }).catch(() => {});
        }
      }),
    );
    return {
      used: each.reduce((sum, h) => sum + h.usedSize, 0),
      backing: each.reduce((sum, h) => sum + (h.backingStorageSize ?? 0), 0),
      wasm: each.reduce((sum, h) => sum + h.wasm, 0),
      targets: targets.length,
    };
  }

  /** The process ids of every Chromium process, from SystemInfo.getProcessInfo. */
  async pids() {
    const { processInfo } = await this.cdp.send('SystemInfo.getProcessInfo');
    return processInfo.map((p) => p.id);
  }

  /** CPU time of all of Chromium's threads, in ms (from /proc/<pid>/task/<tid>/schedstat), or null without /proc. */
  async cpuMs() {
    try {
      readdirSync('/proc/self/task');
    } catch {
      return null;
    }
    let ns = 0;
    for (const pid of await this.pids()) {
      let tasks;
      try {
        tasks = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue; // the process ended meanwhile
      }
      for (const tid of tasks) {
        try {
          ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
        } catch {
          // the thread ended meanwhile
        }
      }
    }
    return ns / 1e6;
  }

  /** Private memory (clean and dirty, from /proc/<pid>/smaps_rollup) of all of Chromium's processes, in bytes, or null without /proc. */
  async privateBytes() {
    try {
      readFileSync('/proc/self/smaps_rollup');
    } catch {
      return null;
    }
    let kb = 0;
    for (const pid of await this.pids()) {
      let text;
      try {
        text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      } catch {
        continue; // the process ended meanwhile
      }
      for (const match of text.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB/gm)) kb += Number(match[1]);
    }
    return kb * 1024;
  }

  /** What the context `contextId` holds now: its heaps and all of Chromium's private memory. */
  async footprint(contextId) {
    const heaps = await this.heaps(contextId);
    return { ...heaps, private: await this.privateBytes() };
  }
}

/**
 * One memory run, in a fresh context: a bare leader tab (api backend) whose
 * footprint is read with 1, 16 and 64 idle keyed backends running, then with
 * MEMORY_TABS bare followers joined (each with its session open).
 */
async function memoryRun(browser, url, inspector, run) {
  const context = await browser.newContext();
  try {
    const app = `bench-${Date.now()}-memory-${run}`;
    const label = `memory run ${run}`;
    const [leader] = await openBareTabs(context, url, { app, options: API_OPTIONS, op: API_OP, count: 1, label });
    const contextId = await inspector.contextId(context, leader);
    const steps = {};
    for (const count of [1, 16, 64]) {
      await spawnIdle(leader, 0, count);
      await sleep(IDLE_SETTLE_MS);
      steps[count] = await inspector.footprint(contextId);
    }
    for (let i = 0; i < MEMORY_TABS; i += 1) {
      await openBareTab(context, url, { app, options: API_OPTIONS, op: API_OP, label: `${label}, follower ${i}` });
    }
    await sleep(IDLE_SETTLE_MS);
    steps.tabs = await inspector.footprint(contextId);
    return steps;
  } finally {
    await context.close();
  }
}

/**
 * The raw memory run, in a fresh context: a bare page whose footprint is
 * read with 1, 16 and 64 bare module workers running (each a blob script
 * that posted one message and waits), then with MEMORY_TABS more bare pages.
 */
async function rawMemoryRun(browser, url, inspector, run) {
  const context = await browser.newContext();
  try {
    const page = await newPage(context, `raw memory run ${run}`);
    await page.goto(`${url}${BLANK}`);
    await installHelpers(page);
    const contextId = await inspector.contextId(context, page);
    await page.evaluate(() => {
      window.workers = [];
      window.script = URL.createObjectURL(new Blob(['postMessage(1)'], { type: 'text/javascript' }));
    });
    const steps = {};
    for (const count of [1, 16, 64]) {
      await page.evaluate(
        (count) =>
          window.within(
            Promise.all(
              Array.from(
                { length: count - window.workers.length },
                () =>
                  new Promise((resolve) => {
                    const worker = new Worker(window.script, { type: 'module' });
                    window.workers.push(worker);
                    worker.onmessage = resolve;
                  }),
              ),
            ),
            'bare workers',
          ),
        count,
      );
      await sleep(IDLE_SETTLE_MS);
      steps[count] = await inspector.footprint(contextId);
    }
    for (let i = 0; i < MEMORY_TABS; i += 1) {
      const bare = await newPage(context, `raw memory run ${run}, page ${i}`);
      await bare.goto(`${url}${BLANK}`);
    }
    await sleep(IDLE_SETTLE_MS);
    steps.tabs = await inspector.footprint(contextId);
    return steps;
  } finally {
    await context.close();
  }
}

/**
 * The raw floors, in ms, `runs` times (after one warm-up): a Web Lock handed
 * to a page that waits for it when its holder's page closes (and, with
 * `crash`, when its holder's renderer crashes); a bare module worker from
 * `new Worker` to its first message; a connect to a running SharedWorker
 * until its first message, together with a lock grant.
 */
async function rawFloorRuns(browser, url, runs, { crash }) {
  const context = await browser.newContext();
  const floors = { handoff: [], crashHandoff: [], workerStart: [], join: [], failures: [] };
  try {
    for (let run = 0; run <= runs; run += 1) {
      const name = `bench-raw-${Date.now()}-${run}`;
      const holder = await newPage(context, `raw run ${run}, holder`);
      const waiter = await newPage(context, `raw run ${run}, waiter`);
      const crashed = crash ? await newPage(context, `raw run ${run}, crashing holder`) : null;
      try {
        await Promise.all([holder, waiter, crashed].filter(Boolean).map((page) => page.goto(`${url}${BLANK}`)));
        await installHelpers(waiter);
        const hold = (page, name) =>
          page.evaluate((name) => new Promise((held) => navigator.locks.request(name, () => (held(), new Promise(() => {})))), name);
        await hold(holder, name);
        if (crashed) await hold(crashed, `${name}:crash`);
        await waiter.evaluate((name) => {
          const wait = (lock) => new Promise((resolve) => navigator.locks.request(lock, () => resolve(performance.timeOrigin + performance.now())));
          window.granted = wait(name);
          window.grantedAfterCrash = wait(`${name}:crash`);
        }, name);
        await sleep(SETTLE_MS);
        const start = await holder.evaluate(() => performance.timeOrigin + performance.now());
        await holder.close();
        const granted = await waiter.evaluate(() => window.within(window.granted, 'the lock of a closed page'));
        let crashHandoff = null;
        if (crashed) {
          const cdp = await context.newCDPSession(crashed);
          const gone = new Promise((resolve) => crashed.once('crash', resolve));
          await sleep(SETTLE_MS);
          const crashStart = await crashed.evaluate(() => performance.timeOrigin + performance.now());
          cdp.send('Page.crash').catch(() => {});
          crashHandoff = (await waiter.evaluate(() => window.within(window.grantedAfterCrash, 'the lock of a crashed page'))) - crashStart;
          await Promise.race([gone, sleep(FAILOVER_TIMEOUT_MS)]);
        }
        const { workerStart, join } = await waiter.evaluate(async (name) => {
          const script = (source) => URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
          const worker = script('postMessage(1)');
          let t = performance.now();
          await window.within(
            new Promise((resolve) => {
              const w = new Worker(worker, { type: 'module' });
              w.onmessage = () => (w.terminate(), resolve());
            }),
            'a bare worker',
          );
          const workerStart = performance.now() - t;
          const shared = script('onconnect = (event) => event.ports[0].postMessage(1)');
          const connect = () =>
            window.within(
              new Promise((resolve) => {
                const w = new SharedWorker(shared, { type: 'module', name });
                w.port.onmessage = () => resolve();
                w.port.start();
              }),
              'a SharedWorker connect',
            );
          await connect(); // it runs from now on
          t = performance.now();
          await Promise.all([connect(), navigator.locks.request(`${name}:join`, () => {})]);
          return { workerStart, join: performance.now() - t };
        }, name);
        if (run === 0) continue;
        floors.handoff.push(granted - start);
        if (crashed) floors.crashHandoff.push(crashHandoff);
        floors.workerStart.push(workerStart);
        floors.join.push(join);
      } catch (error) {
        floors.failures.push(`run ${run}: ${error.message}`);
        console.error(`raw floor run ${run} failed: ${error.message}`);
      } finally {
        await Promise.all([holder, waiter, crashed].filter(Boolean).map((page) => page.close().catch(() => {})));
      }
    }
    return floors;
  } finally {
    await context.close();
  }
}

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Median, p90 (nearest rank), min and max of `samples`, formatted. */
function summary(samples) {
  if (samples.length === 0) return 'no successful runs';
  const sorted = [...samples].sort((a, b) => a - b);
  const p90 = sorted[Math.ceil(0.9 * sorted.length) - 1];
  const ms = (x) => `${x.toFixed(1).padStart(7)} ms`;
  return `median ${ms(median(sorted))}  p90 ${ms(p90)}  min ${ms(sorted[0])}  max ${ms(sorted.at(-1))}  (n=${samples.length})`;
}

/** `label` padded to the width of the figures' labels. */
const pad = (label, width = 34) => label + ' '.repeat(Math.max(0, width - label.length));
/** The median of `samples` over `floor` (a number), formatted; n/a when either is missing. */
const ratio = (samples, floor) => (samples.length && floor ? `${(median(samples) / floor).toFixed(2)}×` : 'n/a');
const ms = (x) => `${x.toFixed(1)} ms`;
const us = (x) => `${(x * 1000).toFixed(0)} µs`;
const perSecond = (x) => `${Math.round(x).toLocaleString('en')}/s`;
const kb = (bytes) => `${Math.round(bytes / 1024).toLocaleString('en')} KB`;
const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/**
 * Runs `measure(run)` until `runs` runs succeeded or `runs` failed; each
 * failure is reported on stderr. Resolves to `{ samples, failures }`.
 */
async function repeat(runs, what, measure) {
  const samples = [];
  const failures = [];
  for (let run = 0; samples.length < runs && failures.length < runs; run += 1) {
    try {
      samples.push(await measure(run));
    } catch (error) {
      failures.push(error.message);
      console.error(`${what}, run ${run} failed: ${error.message}`);
    }
  }
  return { samples, failures };
}

/**
 * Runs one group of the benchmark: `body()` pushes its lines; if it throws,
 * the group is reported as failed and the others go on.
 */
async function group(name, lines, body) {
  const t = Date.now();
  try {
    await body();
  } catch (error) {
    lines.push(`${name}: the group failed: ${error.message}`);
    console.error(`${name} failed: ${error.stack ?? error}`);
  }
  console.error(`done: ${name} (${((Date.now() - t) / 1000).toFixed(0)} s)`);
}

/** When the newest file of the package in pkg/ was written, in ms since the epoch. */
function packageStamp() {
  const dir = join(root, readSettings().outDir);
  return Math.max(...readdirSync(dir).map((name) => statSync(join(dir, name)).mtimeMs));
}

const startedAt = Date.now();
const stampAtStart = packageStamp();
const commit = execFileSync('git', ['-C', root, 'log', '-1', '--format=%h'], { encoding: 'utf8' }).trim();
const server = await startServer();
const baselineServer = args.baseline ? await startServer({ dir: args.baseline }) : undefined;
const baselineName = args.baseline
  ? execFileSync('git', ['-C', args.baseline, 'log', '-1', '--format=%h'], { encoding: 'utf8' }).trim()
  : '';
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
const lines = [];
/** The figures the targets are judged on, as this run measured them. */
const judged = {};
try {
  const inspector = await Inspector.open(browser);
  // This build, and the baseline's if one was given; measured turn about so
  // that drift in the machine's speed falls on both alike.
  const builds = [{ label: '', url: server.url }];
  if (baselineServer) builds.push({ label: `baseline ${baselineName}: `, url: baselineServer.url });

  // The raw floors first, so every ratio below is against this run's browser.
  const needFloors = ['failover', 'crash', 'join', 'cold', 'connect', 'scale-tabs', 'scale-backends'].some(on);
  const floors = needFloors
    ? await rawFloorRuns(browser, server.url, RUNS, { crash: on('crash') })
    : { handoff: [], crashHandoff: [], workerStart: [], join: [], failures: [] };
  const handoff = floors.handoff.length ? median(floors.handoff) : NaN;
  const workerStart = floors.workerStart.length ? median(floors.workerStart) : NaN;
  const rawJoin = floors.join.length ? median(floors.join) : NaN;
  const failoverFloor = handoff + workerStart;
  const failoverVsFloor = (samples) =>
    `${ratio(samples, failoverFloor)} the raw floor (hand-off + worker start, ${ms(failoverFloor)}), ${ratio(samples, handoff)} the hand-off alone`;
  if (needFloors) {
    lines.push(
      `${pad('raw lock hand-off:')}${summary(floors.handoff)}  (a waiting page granted the lock of a page that closes)`,
      ...(on('crash') ? [`${pad('raw lock hand-off, crash:')}${summary(floors.crashHandoff)}  (a waiting page granted the lock of a page whose renderer crashes)`] : []),
      `${pad('raw worker start:')}${summary(floors.workerStart)}  (a bare module worker, to its first message)`,
      `${pad('raw join:')}${summary(floors.join)}  (a connect to a running SharedWorker, and a lock grant)`,
    );
    if (floors.failures.length) lines.push(`raw floors: ${floors.failures.length} failed runs`);
  }

  /** Close failovers by tab count, kept for the targets. */
  const closeFailovers = new Map();
  if (TAB_COUNTS.length) {
    await group('failover', lines, async () => {
      for (const tabs of TAB_COUNTS) {
        // N successful runs per build; failed ones are retried, up to N failures.
        const results = builds.map(() => ({ samples: [], failures: [] }));
        for (let run = 0; results.some((r) => r.samples.length < RUNS && r.failures.length < RUNS); run += 1) {
          for (const i of run % 2 ? [...builds.keys()].reverse() : builds.keys()) {
            const result = results[i];
            if (result.samples.length >= RUNS || result.failures.length >= RUNS) continue;
            try {
              result.samples.push((await failoverRun(browser, builds[i].url, { tabs, how: 'close', run })).ms);
            } catch (error) {
              result.failures.push(error.message);
              console.error(`${builds[i].label}failover ${tabs} tabs, run ${run} failed: ${error.message}`);
            }
          }
        }
        closeFailovers.set(tabs, results[0].samples);
        builds.forEach((build, i) => {
          const { samples, failures } = results[i];
          lines.push(
            `${pad(`${build.label}failover, ${tabs} tabs:`)}${summary(samples)}  failed runs: ${failures.length}  ${failoverVsFloor(samples)}`,
          );
        });
      }
    });
  }
  judged.failover4 = closeFailovers.get(4);

  if (CRASH_TAB_COUNTS.length) {
    await group('crash', lines, async () => {
      const crashFloor = median(floors.crashHandoff) + workerStart;
      for (const tabs of CRASH_TAB_COUNTS) {
        const { samples, failures } = await repeat(RUNS, `crash failover ${tabs} tabs`, (run) =>
          failoverRun(browser, server.url, { tabs, how: 'crash', run }),
        );
        const times = samples.map((s) => s.ms);
        const lost = samples.filter((s) => s.coordinatorLost).length;
        const close = closeFailovers.get(tabs);
        lines.push(
          `${pad(`failover by crash, ${tabs} tabs:`)}${summary(times)}  failed runs: ${failures.length}  ` +
            `${ratio(times, crashFloor)} the raw crash floor (crash hand-off + worker start, ${ms(crashFloor)}), ` +
            `${ratio(times, median(floors.crashHandoff))} the crash hand-off alone` +
            `${close?.length ? `, ${ratio(times, median(close))} the close failover` : ''}; ` +
            `the coordinator died with the leader in ${lost} of ${samples.length} runs`,
        );
      }
    });
  }

  let joins;
  if (on('join')) {
    await group('join', lines, async () => {
      const results = builds.map(() => ({ samples: [], failures: [], initializeOnly: [], construct: [], again: [] }));
      // Two turns per build, half the runs each, in alternating order.
      for (const turn of [0, 1]) {
        for (const i of turn ? [...builds.keys()].reverse() : builds.keys()) {
          const join = await joinRuns(browser, builds[i].url, Math.ceil(RUNS / 2));
          for (const failure of join.failures) console.error(`${builds[i].label}join ${failure}`);
          results[i].samples.push(...join.samples);
          results[i].failures.push(...join.failures);
          results[i].initializeOnly.push(...join.initializeOnly);
          results[i].construct.push(...join.construct);
          results[i].again.push(...join.again);
        }
      }
      joins = results[0].samples;
      builds.forEach((build, i) => {
        const { samples, failures, initializeOnly, construct, again } = results[i];
        lines.push(
          `${pad(`${build.label}join existing leader:`)}${summary(samples)}  failed runs: ${failures.length}  ` +
            `${ratio(samples, rawJoin)} the raw join`,
        );
        lines.push(`${pad(`${build.label}  of which initialize():`)}${summary(initializeOnly)}`);
        lines.push(`${pad(`${build.label}  before it, new Client():`)}${summary(construct)}  (not in the join's figure)`);
        lines.push(
          `${pad(`${build.label}join again, same page:`)}${summary(again)}  ${ratio(again, rawJoin)} the raw join ` +
            '(a second client in the page, once its code is compiled and its Web Locks connection open)',
        );
      });
    });
  }
  judged.join = joins;

  if (on('cold')) {
    await group('cold', lines, async () => {
      // Turn about: a raw cold start, then tabworker's, each in a fresh context; run 0 warms up.
      const cold = { samples: [], initializeOnly: [], failures: [] };
      const raw = { samples: [], failures: [] };
      for (let run = 0; run <= RUNS; run += 1) {
        for (const kind of run % 2 ? ['tabworker', 'raw'] : ['raw', 'tabworker']) {
          try {
            if (kind === 'raw') {
              const t = await coldRawRun(browser, server.url, run);
              if (run > 0) raw.samples.push(t);
            } else {
              const { total, initialize } = await coldRun(browser, server.url, run);
              if (run > 0) {
                cold.samples.push(total);
                cold.initializeOnly.push(initialize);
              }
            }
          } catch (error) {
            (kind === 'raw' ? raw : cold).failures.push(error.message);
            console.error(`cold ${kind} run ${run} failed: ${error.message}`);
          }
        }
      }
      const rawCold = raw.samples.length ? median(raw.samples) : NaN;
      lines.push(
        `${pad('raw cold start:')}${summary(raw.samples)}  failed runs: ${raw.failures.length}  (fresh context: a new SharedWorker from a blob to its first message, with the page's first lock grant)`,
        `${pad('cold start, first tab:')}${summary(cold.samples)}  failed runs: ${cold.failures.length}  ` +
          `${ratio(cold.samples, rawCold)} the raw cold start, ${ratio(cold.samples, rawCold + workerStart)} it plus a bare worker start (${ms(rawCold + workerStart)}) ` +
          `(fresh context, package loaded: initialize() → first round trip; the coordinator and the backend fetch and compile their wasm)`,
        `${pad('  of which initialize():')}${summary(cold.initializeOnly)}`,
      );
    });
  }

  if (on('connect')) {
    await group('connect', lines, async () => {
      const c = await connectRuns(browser, server.url, RUNS);
      lines.push(
        `${pad('connect, live key → ready:')}${summary(c.live)}  ${ratio(c.live, workerStart)} the raw worker start, ${ratio(c.live, rawJoin)} the raw join ` +
          `(a follower's connectBackend() to a key whose backend runs, until ready() resolved)`,
        `${pad('  → first request() answered:')}${summary(c.liveRequest)}  ${ratio(c.liveRequest, workerStart)} the raw worker start`,
        `${pad('connect, new key → ready:')}${summary(c.fresh)}  ${ratio(c.fresh, workerStart)} the raw worker start ` +
          `(the leader starts its worker, which loads and compiles the backend's wasm)`,
        `${pad('  → first request() answered:')}${summary(c.freshRequest)}  ${ratio(c.freshRequest, workerStart)} the raw worker start;  failed runs: ${c.failures.length}`,
      );
    });
  }

  if (on('api') || on('bytes')) {
    await group('api', lines, async () => {
      const runs = Math.min(RUNS, 10);
      const api = await apiRuns(browser, server.url, runs, { requests: on('api'), bytes: on('bytes') });
      if (on('api') && api.request.length) {
        judged.requestRatio = median(api.request) / median(api.raw);
        judged.eventRatio = median(api.sendRate) / median(api.rawRate);
        lines.push(
          `${pad('request() round trip:')}median ${us(median(api.request))}   raw MessagePort echo: ${us(median(api.raw))}   ratio ${judged.requestRatio.toFixed(2)}  (medians of ${api.request.length} runs, each the median of blocks of 50 of ${ROUND_TRIPS} round trips)`,
          `${pad('events, send():')}${perSecond(median(api.sendRate))}   raw postMessage: ${perSecond(median(api.rawRate))}   ratio ${judged.eventRatio.toFixed(2)}  (medians of ${api.sendRate.length} runs of ${EVENTS.toLocaleString('en')})`,
        );
      }
      if (on('bytes') && api.bytesApi.length) {
        lines.push(
          `${pad('1 MiB transferred round trip:')}median ${ms(median(api.bytesApi))} (send('bytes', buffer, [buffer]) → event 'bytes-back')   raw postMessage, transferred both ways: ${ms(median(api.bytesRaw))}   ratio ${(median(api.bytesApi) / median(api.bytesRaw)).toFixed(2)}  (medians of ${api.bytesApi.length} runs, each the median of blocks of ${BYTES_BLOCK} of ${BYTES_TRIPS} round trips)`,
        );
      }
      if (api.failures.length) lines.push(`api: failed runs: ${api.failures.length}`);
    });
  }

  if (SCALE_TABS.length) {
    await group('scale-tabs', lines, async () => {
      const byTabs = new Map();
      for (const [tabs, runs] of SCALE_TABS) {
        const { samples, failures } = await repeat(runs, `scale ${tabs} tabs`, (run) => scaleTabsRun(browser, server.url, tabs, run));
        const pick = (key) => samples.map((s) => s[key]);
        byTabs.set(tabs, { failover: pick('failover'), request: pick('request'), raw: pick('raw'), join: pick('join') });
        const request = pick('request');
        lines.push(
          `${pad(`scale, ${tabs} tabs, failover:`)}${summary(pick('failover'))}  failed runs: ${failures.length} of ${runs} planned  ${failoverVsFloor(pick('failover'))}`,
          `${pad(`scale, ${tabs} tabs, request():`)}median ${request.length ? us(median(request)) : 'n/a'}   raw echo: ${request.length ? us(median(pick('raw'))) : 'n/a'}   ratio ${ratio(request, median(pick('raw')))}  (a follower, medians of ${request.length} runs of ${SCALE_TRIPS} round trips)`,
          `${pad(`scale, ${tabs} tabs, join:`)}${summary(pick('join'))}  ${ratio(pick('join'), rawJoin)} the raw join (one more tab)`,
        );
      }
      const [few, many] = [byTabs.get(4), byTabs.get(32)];
      if (few && many) {
        judged.scaleFailover = many.failover.length && few.failover.length ? median(many.failover) / median(few.failover) : undefined;
        judged.scaleRequest = many.request.length && few.request.length ? median(many.request) / median(few.request) : undefined;
        const times = (x) => (x === undefined ? 'n/a' : `${x.toFixed(2)}×`);
        lines.push(
          `${pad('scale, 32 tabs against 4 tabs:')}failover ${times(judged.scaleFailover)}, request() ${times(judged.scaleRequest)}, join ${ratio(many.join, few.join.length ? median(few.join) : NaN)}, raw echo ${ratio(many.raw, few.raw.length ? median(few.raw) : NaN)}  (target: within ${TARGETS.scaleRatio}×; 32 tabs: ${SCALE_TABS.at(-1)[1]} runs planned)`,
        );
      }
    });
  }

  if (SCALE_BACKENDS.length) {
    await group('scale-backends', lines, async () => {
      const byCount = new Map();
      for (const [count, runs] of SCALE_BACKENDS) {
        const { samples, failures } = await repeat(runs, `scale ${count} backends`, (run) =>
          scaleBackendsRun(browser, server.url, inspector, count, run),
        );
        const pick = (key) => samples.map((s) => s[key]).filter((x) => x !== null);
        const m = (key) => (pick(key).length ? median(pick(key)) : NaN);
        byCount.set(count, { failover: pick('failover'), request: pick('request') });
        const label = `${count} idle backend${count > 1 ? 's' : ''}`;
        const withWorkers = m('rawHandoff') + workerStart;
        lines.push(
          `${pad(`${label}, failover:`)}${summary(pick('failover'))}  failed runs: ${failures.length} of ${runs} planned  ` +
            `${ratio(pick('failover'), withWorkers)} the raw floor with ${count} bare worker${count > 1 ? 's' : ''} in the closing page ` +
            `(its hand-off ${ms(m('rawHandoff'))} + worker start, ${ms(withWorkers)}), ${failoverVsFloor(pick('failover'))}  (4 tabs, the keyed backends in the closed leader)`,
          `${pad(`${label}, request():`)}median ${us(m('request'))}   raw echo: ${us(m('raw'))}   ratio ${ratio(pick('request'), m('raw'))}  (a follower to the default backend, medians of ${samples.length} runs of ${SCALE_TRIPS})`,
          `${pad(`${label}, idle leader:`)}main thread busy ${m('leaderBusy').toFixed(2)} ms/s (script ${m('leaderScript').toFixed(2)} ms/s)   a bare page meanwhile: ${m('bareBusy').toFixed(2)} ms/s   ` +
            `all Chromium processes: ${Number.isNaN(m('cpu')) ? 'n/a' : `${m('cpu').toFixed(1)} ms/s`}  (over ${IDLE_MS / 1000} s of nothing happening, medians of ${samples.length} runs)`,
        );
      }
      const [one, most] = [byCount.get(1), byCount.get(64)];
      if (one && most) {
        lines.push(
          `${pad('64 idle backends against 1:')}failover ${ratio(most.failover, one.failover.length ? median(one.failover) : NaN)}, request() ${ratio(most.request, one.request.length ? median(one.request) : NaN)}`,
        );
      }
    });
  }

  if (on('memory')) {
    await group('memory', lines, async () => {
      const ours = await repeat(MEMORY_RUNS, 'memory', (run) => memoryRun(browser, server.url, inspector, run));
      const raw = await repeat(MEMORY_RUNS, 'raw memory', (run) => rawMemoryRun(browser, server.url, inspector, run));
      /** The median over runs of (step `to` − step `from`) / `n`, for each of the footprint's figures. */
      const per = (runs, from, to, n) => {
        const of = (key) => {
          const xs = runs.map((s) => (s[to][key] === null || s[from][key] === null ? null : (s[to][key] - s[from][key]) / n)).filter((x) => x !== null);
          return xs.length ? median(xs) : NaN;
        };
        return { used: of('used'), backing: of('backing'), wasm: of('wasm'), private: of('private') };
      };
      const show = (f) =>
        `V8 heap ${kb(f.used)}, wasm memory ${kb(f.wasm)}, other backing stores ${kb(f.backing)}, process private memory ${Number.isNaN(f.private) ? 'n/a' : mb(f.private)}`;
      const versus = (a, b) => `(ratios: V8 heap ${(a.used / b.used).toFixed(1)}×, process private memory ${(a.private / b.private).toFixed(1)}×)`;
      const rows = [
        ['per idle backend, 1 → 16:', 1, 16, 15, 'per bare module worker'],
        ['per idle backend, 16 → 64:', 16, 64, 48, 'per bare module worker'],
        [`per connected tab (+${MEMORY_TABS}):`, 64, 'tabs', MEMORY_TABS, 'per bare page'],
      ];
      for (const [label, from, to, n, rawLabel] of rows) {
        const a = per(ours.samples, from, to, n);
        const b = per(raw.samples, from, to, n);
        lines.push(`${pad(`memory ${label}`)}${show(a)}   raw, ${rawLabel}: ${show(b)}   ${versus(a, b)}`);
      }
      const whole = (runs, step, key) => (runs.length ? median(runs.map((s) => s[step][key])) : NaN);
      const app = (step) =>
        `V8 heaps ${mb(whole(ours.samples, step, 'used'))}, wasm ${mb(whole(ours.samples, step, 'wasm'))} in ${whole(ours.samples, step, 'targets')} contexts`;
      lines.push(
        `${pad('memory, whole app:')}with 1 backend: ${app(1)} (page, coordinator, default and keyed backend); with 64: ${app(64)}   ` +
          `raw, a bare page and 1 bare worker: V8 heaps ${mb(whole(raw.samples, 1, 'used'))}  ` +
          `(runs: ${ours.samples.length}, raw ${raw.samples.length}; failed ${ours.failures.length}, raw ${raw.failures.length}; heaps after a GC in each context; private memory of all Chromium's processes from /proc)`,
      );
    });
  }

  if (on('size')) await group('size', lines, async () => lines.push(...sizeLines()));
  if (baselineServer) lines.push(`baseline ${baselineName}: ${packageSize(args.baseline)}`);

  const cpu = cpus();
  console.log(`\ntabworker benchmark (headless Chromium ${browser.version()}, ${RUNS} run${RUNS > 1 ? 's' : ''} each unless a line says otherwise)`);
  console.log(`machine: ${platform()} ${release()}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, node ${process.version}`);
  console.log(`package: built ${new Date(stampAtStart).toISOString()}, at commit ${commit}`);
  for (const line of lines) console.log(line);
  console.log(`targets (judged on this run's figures, not enforced): ${targetVerdicts({ ...judged, handoff }).join('; ')}`);
  const stampAtEnd = packageStamp();
  if (stampAtEnd !== stampAtStart) {
    console.log(
      `NOTE: the package in pkg/ was rebuilt during this run (at ${new Date(stampAtEnd).toISOString()}): the figures measured before and after are of two builds`,
    );
  }
  console.log(`page console errors/warnings and uncaught errors: ${pageProblems}; total time ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
} finally {
  await browser.close();
  await server.close();
  await baselineServer?.close();
}

/** Each target, with ✔ or ✘ and the figure it was judged on, or "not measured" in this run. */
function targetVerdicts({ failover4, handoff, join, requestRatio, eventRatio, scaleFailover, scaleRequest }) {
  const verdict = (ok, figure) => `${ok ? '✔' : '✘'} (${figure})`;
  const notMeasured = 'not measured in this run';
  const f4 = failover4?.length ? median(failover4) : undefined;
  const within = (x) => (x === undefined ? notMeasured : verdict(x <= TARGETS.scaleRatio, `${x.toFixed(2)}×`));
  return [
    `failover with 4 tabs under ${TARGETS.failover4} ms median ${f4 === undefined ? notMeasured : verdict(f4 < TARGETS.failover4, ms(f4))}`,
    `within ${TARGETS.failover4Ratio}× the raw hand-off alone ${f4 === undefined || Number.isNaN(handoff) ? notMeasured : verdict(f4 / handoff <= TARGETS.failover4Ratio, `${(f4 / handoff).toFixed(2)}×`)}`,
    `join under ${TARGETS.join} ms median ${join?.length ? verdict(median(join) < TARGETS.join, ms(median(join))) : notMeasured}`,
    `request() within ${TARGETS.requestRatio}× raw ${requestRatio === undefined ? notMeasured : verdict(requestRatio <= TARGETS.requestRatio, `${requestRatio.toFixed(2)}×`)}`,
    `send() at least ${TARGETS.eventRatio}× raw ${eventRatio === undefined ? notMeasured : verdict(eventRatio >= TARGETS.eventRatio, `${eventRatio.toFixed(2)}×`)}`,
    `32-tab failover within ${TARGETS.scaleRatio}× of 4 tabs ${within(scaleFailover)}`,
    `32-tab request() within ${TARGETS.scaleRatio}× of 4 tabs ${within(scaleRequest)}`,
  ];
}
