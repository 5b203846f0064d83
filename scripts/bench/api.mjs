// The api and bytes groups of scripts/bench.mjs: in one bare follower tab,
// over the default backend's session, request() round trips and send()
// events per second, and a 1 MiB ArrayBuffer transferred there and back,
// each beside the same done by hand on the session's MessagePort. The scale
// groups measure their round trips with measureRequests too.
import { API_BACKEND, API_OP, API_OPTIONS, firstLeads, openBareTab, openTab, SETTLE_MS, sleep } from './pages.mjs';
import { median, ms, pad, perSecond, us } from './report.mjs';

/** Round trips per run of the request benchmark, and events per run of the throughput one. */
export const ROUND_TRIPS = 500;
const EVENTS = 20_000;
/** The transferred buffer's size, and round trips of it per run (in alternating blocks of BYTES_BLOCK). */
const BYTES = 1 << 20;
const BYTES_TRIPS = 100;
const BYTES_BLOCK = 10;

/**
 * In `page` (a bare tab with `window.api` and `window.port` on one session):
 * `trips` round trips of `request('echo')` and as many raw `raw-echo` ones,
 * in alternating blocks of 50. Resolves to the median block mean of each, in
 * ms: `{ request, raw }`.
 */
export function measureRequests(page, trips) {
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
    const first = await openTab(context, url, app, 'api leader', { options: { backend: API_BACKEND }, warm: false });
    await firstLeads(first);
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
 * The api group, for `--only api` or `bytes` or both: with `requests`, the
 * request() and send() figures, whose ratios go to `judged`; with `bytes`,
 * the 1 MiB transfer; min(N, 10) runs.
 * @param {import('./report.mjs').Bench} bench
 */
export async function apiGroup({ browser, url, runs: allRuns, lines, judged }, { requests, bytes }) {
  const runs = Math.min(allRuns, 10);
  const api = await apiRuns(browser, url, runs, { requests, bytes });
  if (requests && api.request.length) {
    judged.requestRatio = median(api.request) / median(api.raw);
    judged.eventRatio = median(api.sendRate) / median(api.rawRate);
    lines.push(
      `${pad('request() round trip:')}median ${us(median(api.request))}   raw MessagePort echo: ${us(median(api.raw))}   ratio ${judged.requestRatio.toFixed(2)}  (medians of ${api.request.length} runs, each the median of blocks of 50 of ${ROUND_TRIPS} round trips)`,
      `${pad('events, send():')}${perSecond(median(api.sendRate))}   raw postMessage: ${perSecond(median(api.rawRate))}   ratio ${judged.eventRatio.toFixed(2)}  (medians of ${api.sendRate.length} runs of ${EVENTS.toLocaleString('en')})`,
    );
  }
  if (bytes && api.bytesApi.length) {
    lines.push(
      `${pad('1 MiB transferred round trip:')}median ${ms(median(api.bytesApi))} (send('bytes', buffer, [buffer]) → event 'bytes-back')   raw postMessage, transferred both ways: ${ms(median(api.bytesRaw))}   ratio ${(median(api.bytesApi) / median(api.bytesRaw)).toFixed(2)}  (medians of ${api.bytesApi.length} runs, each the median of blocks of ${BYTES_BLOCK} of ${BYTES_TRIPS} round trips)`,
    );
  }
  if (api.failures.length) lines.push(`api: failed runs: ${api.failures.length}`);
}
