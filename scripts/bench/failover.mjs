// The failover and crash groups of scripts/bench.mjs: the leader tab closed,
// or its renderer crashed (CDP Page.crash), with 2, 4 and 8 tabs open, timed
// until every remaining tab did a round trip over its new session. The
// scale groups time their failovers with timeFailover too.
import { armCrash, oneLeader } from '../../tests/browser/harness.mjs';
import { failoverVsFloor } from './floors.mjs';
import { ECHO_OP, FAILOVER_TIMEOUT_MS, openTab, SETTLE_MS, sleep } from './pages.mjs';
import { median, ms, pad, ratio, repeat, summary } from './report.mjs';

/** Tab counts of the failovers, by close and by crash. */
const TAB_COUNTS = [2, 4, 8];

/**
 * Times a failover: `leader` is closed (`how` = 'close') or its renderer
 * crashed ('crash'), and the time runs until every page of `others` did one
 * round trip of `op` over a session of a newer epoch. Resolves to `{ ms,
 * coordinatorLost }` (whether the coordinator was replaced meanwhile), or
 * throws if a tab had no working session within FAILOVER_TIMEOUT_MS.
 */
export async function timeFailover(context, leader, others, { how, op, label }) {
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
  const crashNow = how === 'crash' ? await armCrash(context, leader) : null;
  await sleep(SETTLE_MS);
  // The start is taken inside the leader page, on the same clock as the
  // completions; the evaluate round trip between it and close() or
  // Page.crash costs well under 1 ms.
  const start = await leader.evaluate(() => performance.timeOrigin + performance.now());
  const crashed = crashNow?.();
  if (!crashNow) await leader.close();
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
    const leader = pages[await oneLeader(pages)];
    return await timeFailover(context, leader, pages.filter((page) => page !== leader), { how, op: ECHO_OP, label });
  } finally {
    await context.close();
  }
}

/**
 * The failover group: close failovers with each of TAB_COUNTS tabs, N
 * successful runs of each build, turn about. Each count's figures of this
 * build go to `closeFailovers`, the 4 tabs' to `judged.failover4`.
 * @param {import('./report.mjs').Bench} bench
 */
export async function failoverGroup({ browser, builds, runs, floors, lines, judged, closeFailovers }) {
  for (const tabs of TAB_COUNTS) {
    // N successful runs per build; failed ones are retried, up to N failures.
    const results = builds.map(() => ({ samples: [], failures: [] }));
    for (let run = 0; results.some((r) => r.samples.length < runs && r.failures.length < runs); run += 1) {
      for (const i of run % 2 ? [...builds.keys()].reverse() : builds.keys()) {
        const result = results[i];
        if (result.samples.length >= runs || result.failures.length >= runs) continue;
        try {
          result.samples.push((await failoverRun(browser, builds[i].url, { tabs, how: 'close', run })).ms);
        } catch (error) {
          result.failures.push(error.message);
          console.error(`${builds[i].label}failover ${tabs} tabs, run ${run} failed: ${error.message}`);
        }
      }
    }
    closeFailovers.set(tabs, results[0].samples);
    if (tabs === 4) judged.failover4 = results[0].samples;
    builds.forEach((build, i) => {
      const { samples, failures } = results[i];
      lines.push(
        `${pad(`${build.label}failover, ${tabs} tabs:`)}${summary(samples)}  failed runs: ${failures.length}  ${failoverVsFloor(floors, samples)}`,
      );
    });
  }
}

/**
 * The crash group: crash failovers with each of TAB_COUNTS tabs, N runs,
 * beside the raw crash floor and the close failovers, if measured.
 * @param {import('./report.mjs').Bench} bench
 */
export async function crashGroup({ browser, url, runs, floors, lines, closeFailovers }) {
  const crashFloor = median(floors.samples.crashHandoff) + floors.workerStart;
  for (const tabs of TAB_COUNTS) {
    const { samples, failures } = await repeat(runs, `crash failover ${tabs} tabs`, (run) =>
      failoverRun(browser, url, { tabs, how: 'crash', run }),
    );
    const times = samples.map((s) => s.ms);
    const lost = samples.filter((s) => s.coordinatorLost).length;
    const close = closeFailovers.get(tabs);
    lines.push(
      `${pad(`failover by crash, ${tabs} tabs:`)}${summary(times)}  failed runs: ${failures.length}  ` +
        `${ratio(times, crashFloor)} the raw crash floor (crash hand-off + worker start, ${ms(crashFloor)}), ` +
        `${ratio(times, median(floors.samples.crashHandoff))} the crash hand-off alone` +
        `${close?.length ? `, ${ratio(times, median(close))} the close failover` : ''}; ` +
        `the coordinator died with the leader in ${lost} of ${samples.length} runs`,
    );
  }
}
