// The raw floors of scripts/bench.mjs, measured first in the same browser
// so that every ratio is against this run's: a Web Lock handed on when its
// holder's page closes (or its renderer crashes), a bare module worker's
// start, and a connect to a running SharedWorker with a lock grant.
import { armCrash } from '../../tests/browser/harness.mjs';
import { BLANK, FAILOVER_TIMEOUT_MS, installHelpers, newPage, SETTLE_MS, sleep } from './pages.mjs';
import { median, ms, pad, ratio, summary } from './report.mjs';

/**
 * The raw floors of a run: `samples`, each floor's runs as rawFloorRuns
 * resolves them; and their medians in ms (NaN without a successful run):
 * `handoff` (a page closes), `workerStart`, `join`, and `failover`, the raw
 * failover floor (hand-off + worker start).
 * @typedef {object} Floors
 * @property {{ handoff: number[], crashHandoff: number[], workerStart: number[], join: number[], failures: string[] }} samples
 * @property {number} handoff
 * @property {number} workerStart
 * @property {number} join
 * @property {number} failover
 */

/**
 * The raw floors, with `measure` measured `runs` times (with `crash`, the
 * crash hand-off too) and their lines pushed to `lines`; without, none (every
 * figure NaN). Resolves to the Floors.
 */
export async function rawFloors(browser, url, runs, { measure, crash, lines }) {
  const samples = measure
    ? await rawFloorRuns(browser, url, runs, { crash })
    : { handoff: [], crashHandoff: [], workerStart: [], join: [], failures: [] };
  const handoff = samples.handoff.length ? median(samples.handoff) : NaN;
  const workerStart = samples.workerStart.length ? median(samples.workerStart) : NaN;
  const join = samples.join.length ? median(samples.join) : NaN;
  if (measure) {
    lines.push(
      `${pad('raw lock hand-off:')}${summary(samples.handoff)}  (a waiting page granted the lock of a page that closes)`,
      ...(crash ? [`${pad('raw lock hand-off, crash:')}${summary(samples.crashHandoff)}  (a waiting page granted the lock of a page whose renderer crashes)`] : []),
      `${pad('raw worker start:')}${summary(samples.workerStart)}  (a bare module worker, to its first message)`,
      `${pad('raw join:')}${summary(samples.join)}  (a connect to a running SharedWorker, and a lock grant)`,
    );
    if (samples.failures.length) lines.push(`raw floors: ${samples.failures.length} failed runs`);
  }
  return { samples, handoff, workerStart, join, failover: handoff + workerStart };
}

/** Failover `samples` (ms) against the raw failover floor and the hand-off alone of `floors`, formatted. */
export const failoverVsFloor = (floors, samples) =>
  `${ratio(samples, floors.failover)} the raw floor (hand-off + worker start, ${ms(floors.failover)}), ${ratio(samples, floors.handoff)} the hand-off alone`;

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
          const crashNow = await armCrash(context, crashed);
          await sleep(SETTLE_MS);
          const crashStart = await crashed.evaluate(() => performance.timeOrigin + performance.now());
          const gone = crashNow();
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
