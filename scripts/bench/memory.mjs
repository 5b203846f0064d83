// The memory group of scripts/bench.mjs: V8 heaps, wasm memories and the
// private memory of Chromium's processes per idle keyed backend and per
// connected tab, beside bare module workers and bare pages.
import {
  API_OP,
  API_OPTIONS,
  BLANK,
  IDLE_SETTLE_MS,
  installHelpers,
  newPage,
  openBareTab,
  openBareTabs,
  sleep,
  spawnIdle,
} from './pages.mjs';
import { kb, mb, median, pad, repeat } from './report.mjs';

/** Follower tabs that join in the memory benchmark. */
const MEMORY_TABS = 4;

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
 * The memory group: N/10 runs (at least 1) of each of memoryRun and rawMemoryRun.
 * @param {import('./report.mjs').Bench} bench
 */
export async function memoryGroup({ browser, url, runs, lines, inspector }) {
  const memoryRuns = Math.min(runs, Math.max(1, Math.ceil(runs / 10)));
  const ours = await repeat(memoryRuns, 'memory', (run) => memoryRun(browser, url, inspector, run));
  const raw = await repeat(memoryRuns, 'raw memory', (run) => rawMemoryRun(browser, url, inspector, run));
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
}
