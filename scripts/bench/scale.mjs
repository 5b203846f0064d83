// The scale groups of scripts/bench.mjs: request(), join and failover as an
// app has more tabs (scale-tabs), and request(), failover and the leader's
// idle main thread as its leader runs more idle keyed backends
// (scale-backends).
import { measureRequests, ROUND_TRIPS } from './api.mjs';
import { timeFailover } from './failover.mjs';
import { failoverVsFloor } from './floors.mjs';
import { timeJoin } from './join.mjs';
import {
  API_OP,
  API_OPTIONS,
  BLANK,
  IDLE_SETTLE_MS,
  installHelpers,
  newPage,
  openBareTabs,
  SETTLE_MS,
  sleep,
  spawnIdle,
} from './pages.mjs';
import { fewer, median, ms, pad, ratio, repeat, summary, TARGETS, us } from './report.mjs';

/** Round trips per run of the request benchmark inside the scaling runs. */
const SCALE_TRIPS = 200;
/** How long the leader's main thread is watched while idle. */
const IDLE_MS = 2000;

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
 * The scale-tabs group: apps of 2, 4 and 8 tabs (N/2 runs each) and 32
 * (N/4 runs); the 32 tabs' failover and request() against 4 tabs' go to
 * `judged`.
 * @param {import('./report.mjs').Bench} bench
 */
export async function scaleTabsGroup({ browser, url, runs: allRuns, floors, lines, judged }) {
  /** Tab counts, with their runs. */
  const plan = [[2, fewer(allRuns, 2)], [4, fewer(allRuns, 2)], [8, fewer(allRuns, 2)], [32, fewer(allRuns, 4)]];
  const byTabs = new Map();
  for (const [tabs, runs] of plan) {
    const { samples, failures } = await repeat(runs, `scale ${tabs} tabs`, (run) => scaleTabsRun(browser, url, tabs, run));
    const pick = (key) => samples.map((s) => s[key]);
    byTabs.set(tabs, { failover: pick('failover'), request: pick('request'), raw: pick('raw'), join: pick('join') });
    const request = pick('request');
    lines.push(
      `${pad(`scale, ${tabs} tabs, failover:`)}${summary(pick('failover'))}  failed runs: ${failures.length} of ${runs} planned  ${failoverVsFloor(floors, pick('failover'))}`,
      `${pad(`scale, ${tabs} tabs, request():`)}median ${request.length ? us(median(request)) : 'n/a'}   raw echo: ${request.length ? us(median(pick('raw'))) : 'n/a'}   ratio ${ratio(request, median(pick('raw')))}  (a follower, medians of ${request.length} runs of ${SCALE_TRIPS} round trips)`,
      `${pad(`scale, ${tabs} tabs, join:`)}${summary(pick('join'))}  ${ratio(pick('join'), floors.join)} the raw join (one more tab)`,
    );
  }
  const [few, many] = [byTabs.get(4), byTabs.get(32)];
  if (few && many) {
    judged.scaleFailover = many.failover.length && few.failover.length ? median(many.failover) / median(few.failover) : undefined;
    judged.scaleRequest = many.request.length && few.request.length ? median(many.request) / median(few.request) : undefined;
    const times = (x) => (x === undefined ? 'n/a' : `${x.toFixed(2)}×`);
    lines.push(
      `${pad('scale, 32 tabs against 4 tabs:')}failover ${times(judged.scaleFailover)}, request() ${times(judged.scaleRequest)}, join ${ratio(many.join, few.join.length ? median(few.join) : NaN)}, raw echo ${ratio(many.raw, few.raw.length ? median(few.raw) : NaN)}  (target: within ${TARGETS.scaleRatio}×; 32 tabs: ${plan.at(-1)[1]} runs planned)`,
    );
  }
}

/**
 * The scale-backends group: a leader running 1 and 16 (N/4 runs each) and 64
 * (N/7 runs) idle keyed backends.
 * @param {import('./report.mjs').Bench} bench
 */
export async function scaleBackendsGroup({ browser, url, runs: allRuns, floors, lines, inspector }) {
  /** Idle keyed backend counts, with their runs. */
  const plan = [[1, fewer(allRuns, 4)], [16, fewer(allRuns, 4)], [64, fewer(allRuns, 7)]];
  const byCount = new Map();
  for (const [count, runs] of plan) {
    const { samples, failures } = await repeat(runs, `scale ${count} backends`, (run) =>
      scaleBackendsRun(browser, url, inspector, count, run),
    );
    const pick = (key) => samples.map((s) => s[key]).filter((x) => x !== null);
    const m = (key) => (pick(key).length ? median(pick(key)) : NaN);
    byCount.set(count, { failover: pick('failover'), request: pick('request') });
    const label = `${count} idle backend${count > 1 ? 's' : ''}`;
    const withWorkers = m('rawHandoff') + floors.workerStart;
    lines.push(
      `${pad(`${label}, failover:`)}${summary(pick('failover'))}  failed runs: ${failures.length} of ${runs} planned  ` +
        `${ratio(pick('failover'), withWorkers)} the raw floor with ${count} bare worker${count > 1 ? 's' : ''} in the closing page ` +
        `(its hand-off ${ms(m('rawHandoff'))} + worker start, ${ms(withWorkers)}), ${failoverVsFloor(floors, pick('failover'))}  (4 tabs, the keyed backends in the closed leader)`,
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
}
