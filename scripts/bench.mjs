// Benchmarks of tabworker in headless Chromium: failover time (2, 4 and 8
// tabs), the join time of a tab whose app already has a ready leader, and
// the developer API from a follower tab beside the raw MessagePort it runs
// on (request round trips, events per second). The figures are printed,
// never asserted.
//
//   node scripts/bench.mjs [--runs N] [--only failover|join|api|size] [--baseline DIR]
//                                                                          (default: 20 runs of each)
//
// --baseline DIR: another checkout of tabworker with its package built (for
// example a git worktree of an older commit). Failover and join are then
// measured for both builds in the same run, turn about, and printed side by
// side with both packages' sizes.
//
// Size: the package's wasm and JS, raw and gzipped, and a breakdown of the
// wasm: its sections, and its code by crate and by function (read from the
// build before wasm-opt, which still has the function names).
//
// Failover: from the moment the leader tab is closed until EVERY remaining
// tab has done one round trip to the backend over its new session. Join:
// from `client.initialize()` until the first round trip over the session.
//
// Each is printed beside the raw browser primitives' floor, measured in the
// same run: a failover beside a Web Lock handed to a waiting page when its
// holder's page closes plus a bare module worker's start; a join beside a
// connect to a running SharedWorker plus a lock grant.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, waitUntil } from '../tests/browser/harness.mjs';
import { readSettings, roleModule, root } from './build.mjs';
import { startServer } from './serve.mjs';

const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, only: { type: 'string' }, baseline: { type: 'string' } },
});
const RUNS = Number(args.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs must be a positive integer, not "${args.runs}"`);
if (args.only !== undefined && !['failover', 'join', 'api', 'size'].includes(args.only))
  throw new Error(`--only must be "failover", "join", "api" or "size", not "${args.only}"`);

const TAB_COUNTS = args.only === undefined || args.only === 'failover' ? [2, 4, 8] : [];
const JOIN = args.only === undefined || args.only === 'join';
const API = args.only === undefined || args.only === 'api';
const SIZE = args.only === undefined || args.only === 'size';
/** Round trips per run of the request benchmark, and events per run of the throughput one. */
const ROUND_TRIPS = 500;
const EVENTS = 20_000;
/** How long the remaining tabs may take to reconnect before the run counts as failed. */
const FAILOVER_TIMEOUT_MS = 10_000;
/** Quiet time before each measurement, so set-up work (wasm tier-up, GC) settles. */
const SETTLE_MS = 200;
const TARGETS = { failover4: 150, join: 10, requestRatio: 1.25, eventRatio: 0.8 };

const TAB = '/tests/browser/fixtures/tab.html';
const CLIENT_OPTIONS = { coordinator: '/www/coordinator.js', backend: '/tests/browser/fixtures/echo-backend.js' };
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
 * One failover run with `tabs` tabs in a fresh context. Resolves to the
 * failover time in ms, or throws (the run then counts as failed).
 */
async function failoverRun(browser, url, tabs, run) {
  const context = await browser.newContext();
  try {
    const app = `bench-${Date.now()}-${tabs}-${run}`;
    const pages = await Promise.all(
      Array.from({ length: tabs }, (_, i) => openTab(context, url, app, `failover ${tabs} tabs, run ${run}, tab ${i}`)),
    );
    const leader = await waitUntil(
      async () => {
        const roles = await Promise.all(pages.map((page) => page.evaluate(() => window.client.role)));
        const leaders = pages.filter((_, i) => roles[i] === 'leader');
        return leaders.length === 1 ? leaders[0] : null;
      },
      { what: 'exactly one leader' },
    );
    const others = pages.filter((page) => page !== leader);

    // Every remaining tab arms a watcher: on the first session of a newer
    // epoch it does one echo round trip right away on that session's port
    // and records when the answer came, as wall-clock-aligned high
    // resolution time. Sessions that die before answering are replaced by
    // the next newer one. The watcher gives up by itself after the timeout,
    // so nothing here can hang.
    await Promise.all(
      others.map((page) =>
        page.evaluate((timeoutMs) => {
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
                if (data?.value === value) finish({ done: performance.timeOrigin + performance.now(), sessions, epoch });
              });
              port.start();
              port.postMessage({ op: 'echo', value });
            };
            client.addEventListener('session', onSession);
          });
        }, FAILOVER_TIMEOUT_MS),
      ),
    );

    await sleep(SETTLE_MS);
    // The start is taken inside the leader page, on the same clock as the
    // completions; the evaluate round trip between it and close() costs
    // well under 1 ms.
    const start = await leader.evaluate(() => performance.timeOrigin + performance.now());
    await leader.close();
    const results = await Promise.all(others.map((page) => page.evaluate(() => window.benchFailover)));

    const late = results.filter((r) => r.done === null).length;
    if (late) throw new Error(`${late} of ${others.length} tabs had no working session after ${FAILOVER_TIMEOUT_MS} ms`);
    const retried = results.filter((r) => r.sessions > 1).length;
    if (retried) console.error(`note: failover ${tabs} tabs, run ${run}: ${retried} tab(s) needed more than one new session`);
    return Math.max(...results.map((r) => r.done)) - start;
  } finally {
    await context.close();
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
    const failures = [];
    // Run 0 warms up the browser's caches and is not counted.
    for (let run = 0; run <= runs; run += 1) {
      const page = await newPage(context, `join run ${run}`);
      try {
        await page.goto(`${url}${BLANK}`);
        await page.evaluate(async () => {
          const { default: init, Client } = await import('/pkg/tabworker.js');
          await init();
          window.Client = Client;
        });
        await sleep(SETTLE_MS);
        const result = await page.evaluate(
          async ({ options, timeoutMs }) => {
            const client = new window.Client(options);
            try {
              const t0 = performance.now();
              await client.initialize();
              const initialized = performance.now();
              const { port } = await client.connected();
              await new Promise((resolve, reject) => {
                const timer = setTimeout(() => reject(new Error(`no echo within ${timeoutMs} ms`)), timeoutMs);
                port.addEventListener('message', ({ data }) => {
                  if (data?.value !== 'join') return;
                  clearTimeout(timer);
                  resolve();
                });
                port.start();
                port.postMessage({ op: 'echo', value: 'join' });
              });
              const t1 = performance.now();
              return { total: t1 - t0, initialize: initialized - t0 };
            } finally {
              await client.destroy();
            }
          },
          { options: { ...CLIENT_OPTIONS, name: app }, timeoutMs: FAILOVER_TIMEOUT_MS },
        );
        if (run > 0) {
          samples.push(result.total);
          initializeOnly.push(result.initialize);
        }
      } catch (error) {
        failures.push(`run ${run}: ${error.message}`);
      } finally {
        await page.close();
      }
    }
    return { samples, initializeOnly, failures };
  } finally {
    await context.close();
  }
}

/**
 * The developer API beside the raw MessagePort, measured in one follower
 * tab over the same session, in alternating runs: the median round trip of
 * `request()` and of a raw `postMessage` echo, and events per second of
 * `send()` and of raw `postMessage` (each ending with one answer once the
 * backend saw the last).
 */
async function apiRuns(browser, url, runs) {
  const context = await browser.newContext();
  try {
    const app = `bench-${Date.now()}-api`;
    const options = encodeURIComponent(JSON.stringify({ backend: '/tests/browser/fixtures/api-backend.js' }));
    const open = async (label) => {
      const page = await newPage(context, label);
      await page.goto(`${url}${TAB}?app=${encodeURIComponent(app)}&options=${options}`);
      await page.evaluate(() => window.ready);
      return page;
    };
    const first = await open('api leader');
    await waitUntil(() => first.evaluate(() => window.client.role === 'leader'), { what: 'the first tab to lead' });
    // The measuring tab is a bare page (no test instrumentation), as an app's would be.
    const follower = await newPage(context, 'api follower');
    await follower.goto(`${url}${BLANK}`);
    await follower.evaluate(async (app) => {
      const { default: init, Client } = await import('/pkg/tabworker.js');
      await init();
      const backend = '/tests/browser/fixtures/api-backend.js';
      window.client = new Client({ coordinator: '/www/coordinator.js', backend, name: app });
      await window.client.initialize();
      window.api = window.client.backend();
      await window.api.ready();
      window.port = (await window.client.connected()).port;
    }, app);
    const figures = { request: [], raw: [], sendRate: [], rawRate: [] };
    // Run 0 warms up and is not counted.
    for (let run = 0; run <= runs; run += 1) {
      await sleep(SETTLE_MS);
      const result = await follower.evaluate(
        async ({ trips, events }) => {
          const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
          const api = window.api;
          const port = window.port;
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
          for (let block = 0; block < trips / BLOCK; block += 1) {
            let t = performance.now();
            for (let i = 0; i < BLOCK; i += 1) await api.request('echo', i);
            request.push((performance.now() - t) / BLOCK);
            t = performance.now();
            for (let i = 0; i < BLOCK; i += 1) await rawOnce(i);
            raw.push((performance.now() - t) / BLOCK);
          }
          const sendRate = await new Promise((resolve) => {
            const t = performance.now();
            const off = api.on('counted', () => {
              off();
              resolve(events / ((performance.now() - t) / 1000));
            });
            for (let i = 0; i < events; i += 1) api.send('count', { i, last: i === events - 1 });
          });
          const rawRate = await new Promise((resolve) => {
            const t = performance.now();
            const on = ({ data }) => {
              if (data?.op !== 'raw-counted') return;
              port.removeEventListener('message', on);
              resolve(events / ((performance.now() - t) / 1000));
            };
            port.addEventListener('message', on);
            for (let i = 0; i < events; i += 1) port.postMessage({ op: 'raw-count', i, last: i === events - 1 });
          });
          return { request: median(request), raw: median(raw), sendRate, rawRate };
        },
        { trips: ROUND_TRIPS, events: EVENTS },
      );
      if (run > 0) for (const key of Object.keys(figures)) figures[key].push(result[key]);
    }
    return figures;
  } finally {
    await context.close();
  }
}

/** A wasm module's sections: [{ id, name, start, size }] (custom sections by name). */
function sections(bytes) {
  const out = [];
  let at = 8;
  const leb = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  const NAMES = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'data count'];
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb();
    const start = at;
    let name = NAMES[id] ?? `section ${id}`;
    if (id === 0) {
      const length = leb();
      name = `custom "${new TextDecoder().decode(bytes.subarray(at, at + length))}"`;
    }
    out.push({ id, name, start, size });
    at = start + size;
  }
  return { sections: out, leb: (offset) => ((at = offset), [leb(), at]) };
}

/** A Rust legacy-mangled symbol (`_ZN…E`) as a path, without its hash. */
function demangle(name) {
  if (!name.startsWith('_ZN')) return name;
  const parts = [];
  let at = 3;
  while (at < name.length && name[at] !== 'E') {
    const digits = /^\d+/.exec(name.slice(at))?.[0];
    if (!digits) break;
    at += digits.length;
    parts.push(name.slice(at, at + Number(digits)));
    at += Number(digits);
  }
  if (/^h[0-9a-f]{16}$/.test(parts.at(-1) ?? '')) parts.pop();
  return parts.join('::').replaceAll('$LT$', '<').replaceAll('$GT$', '>').replaceAll('$u20$', ' ').replaceAll('..', '::');
}

/** Each function body's size, with its name, from a module that has a name section. */
function functionSizes(bytes) {
  const { sections: all, leb } = sections(bytes);
  let imported = 0;
  const importSection = all.find((s) => s.id === 2);
  if (importSection) {
    let [count, at] = leb(importSection.start);
    for (let i = 0; i < count; i++) {
      for (let j = 0; j < 2; j++) {
        const [length, after] = leb(at);
        at = after + length;
      }
      const kind = bytes[at++];
      const limits = () => {
        const flags = bytes[at++];
        at = leb(at)[1];
        if (flags & 1) at = leb(at)[1];
      };
      if (kind === 0) {
        imported += 1;
        at = leb(at)[1];
      } else if (kind === 1) {
        at += 1;
        limits();
      } else if (kind === 2) limits();
      else if (kind === 3) at += 2;
      else at = leb(at + 1)[1];
    }
  }
  const names = new Map();
  const nameSection = all.find((s) => s.name === 'custom "name"');
  if (nameSection) {
    let [length, at] = leb(nameSection.start);
    at += length; // "name"
    const end = nameSection.start + nameSection.size;
    while (at < end) {
      const kind = bytes[at++];
      let size;
      [size, at] = leb(at);
      if (kind === 1) {
        let [count, p] = leb(at);
        for (let i = 0; i < count; i++) {
          let index;
          let l;
          [index, p] = leb(p);
          [l, p] = leb(p);
          names.set(index, new TextDecoder().decode(bytes.subarray(p, p + l)));
          p += l;
        }
      }
      at += size;
    }
  }
  const code = all.find((s) => s.id === 10);
  const out = [];
  let [count, at] = leb(code.start);
  for (let i = 0; i < count; i++) {
    const [size, body] = leb(at);
    out.push({ name: demangle(names.get(imported + i) ?? `function ${imported + i}`), size });
    at = body + size;
  }
  return out;
}

/** A file of the package built in checkout `dir`: its bytes, and its size raw and gzipped. */
function packageFile(dir, name) {
  const bytes = readFileSync(join(dir, readSettings().outDir, name));
  return { bytes, raw: bytes.length, gz: gzipSync(bytes, { level: 9 }).length };
}

/** The wasm + JS size of the package built in checkout `dir`, raw and gzipped. */
function packageSize(dir) {
  const { outName } = readSettings();
  const [wasm, js] = [`${outName}_bg.wasm`, `${outName}.js`].map((name) => packageFile(dir, name));
  return `package wasm + JS ${(wasm.raw + js.raw).toLocaleString('en')} bytes, ${((wasm.gz + js.gz) / 1024).toFixed(1)} KB gzipped`;
}

/** The package's sizes and what its wasm is made of, as lines to print. */
function sizeLines() {
  const settings = readSettings();
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  const file = (name) => packageFile(root, name);
  // One module per role: what the page, a backend worker and the coordinator each load.
  const entries = [
    ['page (tabworker)', settings.outName, 'tab'],
    ['backend worker (tabworker/backend)', 'backend', 'backend'],
    ['coordinator (tabworker/coordinator)', 'coordinator', 'coordinator'],
  ].map(([label, name, role]) => ({ label, role, wasm: file(`${name}_bg.wasm`), js: file(`${name}.js`) }));
  const react = file('react.js');
  const lines = [];
  for (const { label, wasm, js } of entries) {
    lines.push(
      `${label}: wasm ${wasm.raw.toLocaleString('en')} bytes (${kb(wasm.gz)} gzipped) + JS ${js.raw.toLocaleString('en')} bytes (${kb(js.gz)} gzipped) = ${kb(wasm.gz + js.gz)} gzipped  (target: under 120 KB, aim 80 KB)`,
    );
  }
  const whole = entries.reduce((sum, e) => sum + e.wasm.gz + e.js.gz, 0);
  lines.push(`whole package, every entry: ${kb(whole)} gzipped; react.js ${react.raw.toLocaleString('en')} bytes (${kb(react.gz)} gzipped)`);
  lines.push(`page wasm sections: ${sections(entries[0].wasm.bytes).sections.map((s) => `${s.name} ${kb(s.size)}`).join(', ')}`);
  for (const entry of entries) lines.push(...breakdown(entry.label, roleModule(entry.role), entry.role === 'tab' ? 12 : 0));
  return lines;
}

/** What the module of one role is made of, before wasm-opt: its code by crate, and its `top` largest functions. */
function breakdown(label, built, top) {
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  const lines = [];
  let functions;
  try {
    // wasm-bindgen runs the `describe` functions to learn the exported types and
    // then removes them: they are not in the package, so they are left out here.
    functions = functionSizes(readFileSync(built)).filter((f) => !/describe(_invoke)?$|__wbindgen_describe/.test(f.name));
  } catch (error) {
    return [`(no function breakdown of ${label}: ${error.message})`];
  }
  const total = functions.reduce((sum, f) => sum + f.size, 0);
  const byCrate = new Map();
  for (const f of functions) {
    // A trait impl `<T as Trait>` counts for T's crate; v0-mangled names are the standard library's.
    const path = f.name.replace(/^[_<&]+|^(mut|dyn) /g, '').replace(/^[_<&]+/, '');
    const crate = f.name.startsWith('_R') ? 'std (v0 names)' : path.split('::')[0].split(' ')[0] || '?';
    byCrate.set(crate, (byCrate.get(crate) ?? 0) + f.size);
  }
  const largest = (entries, n) => [...entries].sort((a, b) => b[1] - a[1]).slice(0, n);
  lines.push(
    `${label}, code by crate (before wasm-opt, without wasm-bindgen's describe functions, ${kb(total)}): ${largest(byCrate, 8)
      .map(([crate, size]) => `${crate} ${kb(size)}`)
      .join(', ')}`,
  );
  if (top) lines.push(`${label}, largest functions (before wasm-opt):`);
  for (const f of functions.sort((a, b) => b.size - a.size).slice(0, top)) {
    lines.push(`  ${kb(f.size).padStart(9)}  ${f.name.slice(0, 110)}`);
  }
  return lines;
}

/**
 * The raw floors, in ms, `runs` times (after one warm-up): a Web Lock handed
 * to a page that waits for it when its holder's page closes; a bare module
 * worker from `new Worker` to its first message; a connect to a running
 * SharedWorker until its first message, together with a lock grant.
 */
async function rawFloorRuns(browser, url, runs) {
  const context = await browser.newContext();
  const floors = { handoff: [], workerStart: [], join: [] };
  try {
    for (let run = 0; run <= runs; run += 1) {
      const name = `bench-raw-${Date.now()}-${run}`;
      const holder = await newPage(context, `raw run ${run}, holder`);
      const waiter = await newPage(context, `raw run ${run}, waiter`);
      await Promise.all([holder.goto(`${url}${BLANK}`), waiter.goto(`${url}${BLANK}`)]);
      await holder.evaluate((name) => new Promise((held) => navigator.locks.request(name, () => (held(), new Promise(() => {})))), name);
      await waiter.evaluate((name) => {
        window.granted = new Promise((resolve) => navigator.locks.request(name, () => resolve(performance.timeOrigin + performance.now())));
      }, name);
      await sleep(SETTLE_MS);
      const start = await holder.evaluate(() => performance.timeOrigin + performance.now());
      await holder.close();
      const granted = await waiter.evaluate(() => window.granted);
      const { workerStart, join } = await waiter.evaluate(async (name) => {
        const script = (source) => URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
        const worker = script('postMessage(1)');
        let t = performance.now();
        await new Promise((resolve) => {
          const w = new Worker(worker, { type: 'module' });
          w.onmessage = () => (w.terminate(), resolve());
        });
        const workerStart = performance.now() - t;
        const shared = script('onconnect = (event) => event.ports[0].postMessage(1)');
        const connect = () =>
          new Promise((resolve) => {
            const w = new SharedWorker(shared, { type: 'module', name });
            w.port.onmessage = () => resolve();
            w.port.start();
          });
        await connect(); // it runs from now on
        t = performance.now();
        await Promise.all([connect(), navigator.locks.request(`${name}:join`, () => {})]);
        return { workerStart, join: performance.now() - t };
      }, name);
      await waiter.close();
      if (run === 0) continue;
      floors.handoff.push(granted - start);
      floors.workerStart.push(workerStart);
      floors.join.push(join);
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
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const p90 = sorted[Math.ceil(0.9 * sorted.length) - 1];
  const ms = (x) => `${x.toFixed(1).padStart(7)} ms`;
  return `median ${ms(median)}  p90 ${ms(p90)}  min ${ms(sorted[0])}  max ${ms(sorted.at(-1))}  (n=${samples.length})`;
}

const startedAt = Date.now();
const server = await startServer();
const baselineServer = args.baseline ? await startServer({ dir: args.baseline }) : undefined;
const baselineName = args.baseline
  ? execFileSync('git', ['-C', args.baseline, 'log', '-1', '--format=%h'], { encoding: 'utf8' }).trim()
  : '';
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
const lines = [];
try {
  // This build, and the baseline's if one was given; measured turn about so
  // that drift in the machine's speed falls on both alike.
  const builds = [{ label: '', url: server.url }];
  if (baselineServer) builds.push({ label: `baseline ${baselineName}: `, url: baselineServer.url });
  const pad = (label, width) => label + ' '.repeat(Math.max(0, width - label.length));
  // The raw floors first, so every ratio below is against this run's browser.
  const floors = TAB_COUNTS.length || JOIN ? await rawFloorRuns(browser, server.url, RUNS) : null;
  const failoverFloor = floors && median(floors.handoff) + median(floors.workerStart);
  if (floors) {
    lines.push(
      `${pad('raw lock hand-off:', 25)}${summary(floors.handoff)}  (a waiting page granted the lock of a page that closes)`,
      `${pad('raw worker start:', 25)}${summary(floors.workerStart)}  (a bare module worker, to its first message)`,
      `${pad('raw join:', 25)}${summary(floors.join)}  (a connect to a running SharedWorker, and a lock grant)`,
    );
  }
  const ratio = (samples, floor) => (samples.length ? `${(median(samples) / floor).toFixed(2)}×` : 'n/a');
  for (const tabs of TAB_COUNTS) {
    // N successful runs per build; failed ones are retried, up to N failures.
    const results = builds.map(() => ({ samples: [], failures: [] }));
    for (let run = 0; results.some((r) => r.samples.length < RUNS && r.failures.length < RUNS); run += 1) {
      for (const i of run % 2 ? [...builds.keys()].reverse() : builds.keys()) {
        const result = results[i];
        if (result.samples.length >= RUNS || result.failures.length >= RUNS) continue;
        try {
          result.samples.push(await failoverRun(browser, builds[i].url, tabs, run));
        } catch (error) {
          result.failures.push(error.message);
          console.error(`${builds[i].label}failover ${tabs} tabs, run ${run} failed: ${error.message}`);
        }
      }
    }
    builds.forEach((build, i) => {
      const { samples, failures } = results[i];
      lines.push(
        `${pad(`${build.label}failover, ${tabs} tabs:`, 25)}${summary(samples)}  failed runs: ${failures.length}  ` +
          `${ratio(samples, failoverFloor)} the raw floor (hand-off + worker start, ${failoverFloor.toFixed(1)} ms), ` +
          `${ratio(samples, median(floors.handoff))} the hand-off alone`,
      );
    });
    console.error(`done: failover with ${tabs} tabs`);
  }
  if (JOIN) {
    const results = builds.map(() => ({ samples: [], failures: [], initializeOnly: [] }));
    // Two turns per build, half the runs each, in alternating order.
    for (const turn of [0, 1]) {
      for (const i of turn ? [...builds.keys()].reverse() : builds.keys()) {
        const join = await joinRuns(browser, builds[i].url, Math.ceil(RUNS / 2));
        for (const failure of join.failures) console.error(`${builds[i].label}join ${failure}`);
        results[i].samples.push(...join.samples);
        results[i].failures.push(...join.failures);
        results[i].initializeOnly.push(...join.initializeOnly);
      }
    }
    builds.forEach((build, i) => {
      const { samples, failures, initializeOnly } = results[i];
      lines.push(
        `${pad(`${build.label}join existing leader:`, 25)}${summary(samples)}  failed runs: ${failures.length}  ` +
          `${ratio(samples, median(floors.join))} the raw join`,
      );
      lines.push(`${pad(`${build.label}  of which initialize():`, 25)}${summary(initializeOnly)}`);
    });
  }

  if (API) {
    const api = await apiRuns(browser, server.url, Math.min(RUNS, 10));
    const us = (ms) => `${(ms * 1000).toFixed(0)} µs`;
    const perSecond = (x) => `${Math.round(x).toLocaleString('en')}/s`;
    lines.push(
      `request() round trip:    median ${us(median(api.request))}   raw MessagePort echo: ${us(median(api.raw))}   ratio ${(median(api.request) / median(api.raw)).toFixed(2)}  (medians of ${api.request.length} runs, each the median of blocks of 50 of ${ROUND_TRIPS} round trips)`,
    );
    lines.push(
      `events, send():          ${perSecond(median(api.sendRate))}   raw postMessage: ${perSecond(median(api.rawRate))}   ratio ${(median(api.sendRate) / median(api.rawRate)).toFixed(2)}  (medians of ${api.sendRate.length} runs of ${EVENTS.toLocaleString('en')})`,
    );
  }

  if (SIZE) lines.push(...sizeLines());
  if (baselineServer) lines.push(`baseline ${baselineName}: ${packageSize(args.baseline)}`);

  const cpu = cpus();
  console.log(`\ntabworker benchmark (headless Chromium ${browser.version()}, ${RUNS} runs each)`);
  console.log(`machine: ${platform()} ${release()}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, node ${process.version}`);
  for (const line of lines) console.log(line);
  console.log(
    `targets (for context, not enforced): failover with 4 tabs < ${TARGETS.failover4} ms median and within 1.5× the raw hand-off alone; join < 5 ms median; request() within ${TARGETS.requestRatio}× raw; send() at least ${TARGETS.eventRatio}× raw`,
  );
  console.log(`page console errors/warnings and uncaught errors: ${pageProblems}; total time ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
} finally {
  await browser.close();
  await server.close();
  await baselineServer?.close();
}
