// The figures of scripts/bench.mjs as printed: medians and summaries, the
// ratios and units of its lines, the runs of each group, and the targets
// this run's figures are judged on.

/**
 * What each group of the benchmark is given, and what it fills in.
 * @typedef {object} Bench
 * @property {import('playwright-core').Browser} browser the one Chromium of the run
 * @property {string} url this build's server
 * @property {{ label: string, url: string }[]} builds this build (label '') and the baseline's, if one was given
 *   (its label begins its lines); the groups that compare builds measure them turn about
 * @property {number} runs N, the runs of each figure (`--runs`)
 * @property {import('./floors.mjs').Floors} floors the raw floors, measured first
 * @property {import('./inspector.mjs').Inspector} inspector the browser-wide DevTools session
 * @property {string[]} lines the lines to print; each group pushes its own
 * @property {Record<string, any>} judged the figures the targets are judged on (see targetVerdicts); each group sets its own
 * @property {Map<number, number[]>} closeFailovers close failovers (ms) by tab count, from the failover group
 */

/** The targets: failover with 4 tabs in ms and as a ratio to the raw hand-off, join in ms, and ratios. */
export const TARGETS = { failover4: 150, failover4Ratio: 1.5, join: 5, requestRatio: 1.25, eventRatio: 0.8, scaleRatio: 1.2 };

/** Fewer runs for the slow cases: N (`runs`) / `divisor`, at least 2 (or N if that is less). */
export const fewer = (runs, divisor) => Math.min(runs, Math.max(2, Math.ceil(runs / divisor)));

/** The median of `xs` (NaN if there are none). */
export const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Median, p90 (nearest rank), min and max of `samples`, formatted. */
export function summary(samples) {
  if (samples.length === 0) return 'no successful runs';
  const sorted = [...samples].sort((a, b) => a - b);
  const p90 = sorted[Math.ceil(0.9 * sorted.length) - 1];
  const ms = (x) => `${x.toFixed(1).padStart(7)} ms`;
  return `median ${ms(median(sorted))}  p90 ${ms(p90)}  min ${ms(sorted[0])}  max ${ms(sorted.at(-1))}  (n=${samples.length})`;
}

/** `label` padded to the width of the figures' labels. */
export const pad = (label, width = 34) => label + ' '.repeat(Math.max(0, width - label.length));
/** The median of `samples` over `floor` (a number), formatted; n/a when either is missing. */
export const ratio = (samples, floor) => (samples.length && floor ? `${(median(samples) / floor).toFixed(2)}×` : 'n/a');
/** Units: ms, µs from ms, a rate per second, KB and MB from bytes. */
export const ms = (x) => `${x.toFixed(1)} ms`;
export const us = (x) => `${(x * 1000).toFixed(0)} µs`;
export const perSecond = (x) => `${Math.round(x).toLocaleString('en')}/s`;
export const kb = (bytes) => `${Math.round(bytes / 1024).toLocaleString('en')} KB`;
export const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/**
 * Runs `measure(run)` until `runs` runs succeeded or `runs` failed; each
 * failure is reported on stderr. Resolves to `{ samples, failures }`.
 */
export async function repeat(runs, what, measure) {
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
export async function group(name, lines, body) {
  const t = Date.now();
  try {
    await body();
  } catch (error) {
    lines.push(`${name}: the group failed: ${error.message}`);
    console.error(`${name} failed: ${error.stack ?? error}`);
  }
  console.error(`done: ${name} (${((Date.now() - t) / 1000).toFixed(0)} s)`);
}

/** Each target, with ✔ or ✘ and the figure it was judged on, or "not measured" in this run. */
export function targetVerdicts({ failover4, handoff, join, requestRatio, eventRatio, scaleFailover, scaleRequest }) {
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
