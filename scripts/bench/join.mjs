// The join, cold and connect groups of scripts/bench.mjs: a new tab joining
// an app whose leader is ready, the first tab of a fresh app in a fresh
// BrowserContext, and connectBackend() to a live key and to a new one. The
// tab scaling times its joins with timeJoin too.
import {
  API_OP,
  API_OPTIONS,
  BLANK,
  CLIENT_OPTIONS,
  ECHO_OP,
  firstLeads,
  installHelpers,
  newPage,
  openBareTab,
  openBareTabs,
  openTab,
  packagePage,
  SETTLE_MS,
  sleep,
} from './pages.mjs';
import { median, ms, pad, ratio, summary } from './report.mjs';

/**
 * One join in a fresh page of `context` that has loaded the package (not
 * timed): a new client of `app` with `options`, from `initialize()` to its
 * first round trip of `op`; the page is closed after. Resolves to `{ total,
 * initialize }` in ms.
 */
export async function timeJoin(context, url, { app, options, op, label, again = false }) {
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
    await firstLeads(leader);
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
 * The join group: join times of each build, in two turns of N/2 runs each,
 * turn about; this build's go to `judged.join`.
 * @param {import('./report.mjs').Bench} bench
 */
export async function joinGroup({ browser, builds, runs, floors, lines, judged }) {
  const results = builds.map(() => ({ samples: [], failures: [], initializeOnly: [], construct: [], again: [] }));
  // Two turns per build, half the runs each, in alternating order.
  for (const turn of [0, 1]) {
    for (const i of turn ? [...builds.keys()].reverse() : builds.keys()) {
      const join = await joinRuns(browser, builds[i].url, Math.ceil(runs / 2));
      for (const failure of join.failures) console.error(`${builds[i].label}join ${failure}`);
      results[i].samples.push(...join.samples);
      results[i].failures.push(...join.failures);
      results[i].initializeOnly.push(...join.initializeOnly);
      results[i].construct.push(...join.construct);
      results[i].again.push(...join.again);
    }
  }
  judged.join = results[0].samples;
  builds.forEach((build, i) => {
    const { samples, failures, initializeOnly, construct, again } = results[i];
    lines.push(
      `${pad(`${build.label}join existing leader:`)}${summary(samples)}  failed runs: ${failures.length}  ` +
        `${ratio(samples, floors.join)} the raw join`,
    );
    lines.push(`${pad(`${build.label}  of which initialize():`)}${summary(initializeOnly)}`);
    lines.push(`${pad(`${build.label}  before it, new Client():`)}${summary(construct)}  (not in the join's figure)`);
    lines.push(
      `${pad(`${build.label}join again, same page:`)}${summary(again)}  ${ratio(again, floors.join)} the raw join ` +
        '(a second client in the page, once its code is compiled and its Web Locks connection open)',
    );
  });
}

/**
 * The cold group: N cold starts beside N raw ones, turn about.
 * @param {import('./report.mjs').Bench} bench
 */
export async function coldGroup({ browser, url, runs, floors, lines }) {
  // Turn about: a raw cold start, then tabworker's, each in a fresh context; run 0 warms up.
  const cold = { samples: [], initializeOnly: [], failures: [] };
  const raw = { samples: [], failures: [] };
  for (let run = 0; run <= runs; run += 1) {
    for (const kind of run % 2 ? ['tabworker', 'raw'] : ['raw', 'tabworker']) {
      try {
        if (kind === 'raw') {
          const t = await coldRawRun(browser, url, run);
          if (run > 0) raw.samples.push(t);
        } else {
          const { total, initialize } = await coldRun(browser, url, run);
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
      `${ratio(cold.samples, rawCold)} the raw cold start, ${ratio(cold.samples, rawCold + floors.workerStart)} it plus a bare worker start (${ms(rawCold + floors.workerStart)}) ` +
      `(fresh context, package loaded: initialize() → first round trip; the coordinator and the backend fetch and compile their wasm)`,
    `${pad('  of which initialize():')}${summary(cold.initializeOnly)}`,
  );
}

/**
 * The connect group: N connects to a live key and N to a new one.
 * @param {import('./report.mjs').Bench} bench
 */
export async function connectGroup({ browser, url, runs, floors, lines }) {
  const c = await connectRuns(browser, url, runs);
  lines.push(
    `${pad('connect, live key → ready:')}${summary(c.live)}  ${ratio(c.live, floors.workerStart)} the raw worker start, ${ratio(c.live, floors.join)} the raw join ` +
      `(a follower's connectBackend() to a key whose backend runs, until ready() resolved)`,
    `${pad('  → first request() answered:')}${summary(c.liveRequest)}  ${ratio(c.liveRequest, floors.workerStart)} the raw worker start`,
    `${pad('connect, new key → ready:')}${summary(c.fresh)}  ${ratio(c.fresh, floors.workerStart)} the raw worker start ` +
      `(the leader starts its worker, which loads and compiles the backend's wasm)`,
    `${pad('  → first request() answered:')}${summary(c.freshRequest)}  ${ratio(c.freshRequest, floors.workerStart)} the raw worker start;  failed runs: ${c.failures.length}`,
  );
}
