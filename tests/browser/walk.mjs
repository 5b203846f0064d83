// A seeded random walk over real tabs of one app (one BrowserContext): tabs
// are opened, closed, crashed (CDP `Page.crash`) and frozen (their main thread
// held busy); they connect to keyed backends, terminate them and send them
// requests. After every step it checks from outside, once things settle
// (bounded waits): exactly one leader and one epoch among the live tabs, every
// live tab answered by the default backend and by each of its keyed handles
// that is not terminated, at most one live backend worker
// per key (each worker answers a census) and at most one standby worker, no
// request handled twice (each worker says what it handled on a
// BroadcastChannel), and nothing left behind
// in the Web Locks (tab, worker, key, hosted and session locks all belong to
// live tabs and workers). The same seed walks the same steps.
//
//   runWalk({ browser, baseUrl, seed, steps }) → { seed, steps: [...], stats }; throws
//   an Error naming the seed, the step and the trail on the first broken rule.
import { crash, holdBusy, openTab, uniqueApp, waitUntil } from './harness.mjs';

const FIXTURES = '/tests/browser/fixtures';
const OPTIONS = {
  backend: `${FIXTURES}/api-backend.js`,
  backends: { walk: `${FIXTURES}/api-backend.js` },
};
const KEYS = ['k0', 'k1', 'k2'];
const MAX_TABS = 5;
const SETTLE_MS = 15_000;

/** mulberry32: a small seeded PRNG. */
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    below: (n) => Math.floor(next() * n),
    range: (lo, hi) => lo + Math.floor(next() * (hi - lo)),
    pick: (list) => list[Math.floor(next() * list.length)],
    chance: (p) => next() < p,
  };
}

/** The page-side helpers of the walk, installed in each tab once it joined. */
function install() {
  const app = new URLSearchParams(location.search).get('app');
  window.walk = { handles: {}, outcomes: [], handled: [], census: [], seq: 0 };
  new BroadcastChannel(`tabworker:${app}:backend:handled`).onmessage = ({ data }) => window.walk.handled.push(data);
  const census = new BroadcastChannel(`tabworker:${app}:backend:census`);
  census.onmessage = ({ data }) => data !== 'census?' && window.walk.census.push(data);
  window.walk.takeCensus = () => {
    window.walk.census = [];
    census.postMessage('census?');
  };
  window.walk.main = window.client.backend();
  window.walk.request = (handle, n) => {
    const started = Date.now();
    handle.request('tagged', { n, ms: Math.floor(Math.random() * 50) }, { timeoutMs: 8000 }).then(
      () => window.walk.outcomes.push({ n, ok: true, ms: Date.now() - started }),
      (e) => window.walk.outcomes.push({ n, code: e?.code ?? String(e), ms: Date.now() - started }),
    );
  };
  window.walk.locks = async () => (await navigator.locks.query()).held.map((l) => ({ name: l.name, mode: l.mode }));
}

/** Picks the next step for the live tabs `tabs`. */
function pickStep(r, tabs) {
  const any = () => r.below(tabs.length);
  const roll = r.below(100);
  if (tabs.length === 0 || (roll < 10 && tabs.length < MAX_TABS)) return { op: 'open' };
  if (roll < 16 && tabs.length > 1) return { op: 'close', tab: any() };
  if (roll < 22 && tabs.length > 1) return { op: 'crash', tab: any() };
  if (roll < 30) return { op: 'freeze', tab: any(), ms: r.chance(0.5) ? r.range(200, 1_200) : r.range(2_000, 4_000) };
  if (roll < 50) return { op: 'connect', tab: any(), key: r.pick(KEYS) };
  if (roll < 58) return { op: 'terminate', tab: any(), key: r.pick(KEYS), hard: r.chance(0.4) };
  if (roll < 90) return { op: 'request', tab: any(), key: r.chance(0.3) ? null : r.pick(KEYS) };
  return { op: 'wait', ms: r.range(0, 500) };
}

export async function runWalk({ browser, baseUrl, seed, steps, log = () => {} }) {
  const r = rng(seed);
  const context = await browser.newContext();
  const app = uniqueApp(`walk-${seed}`);
  const tabs = [];
  const trail = [];
  const handled = new Map(); // n → worker
  const stats = { steps: 0, opened: 0, closed: 0, crashed: 0, frozen: 0, requests: 0, handled: 0, connects: 0, terminates: 0 };
  let counter = 0;
  const fail = (what) => {
    throw new Error(`walk seed ${seed} failed at step ${trail.length}: ${what}\n  replay: node scripts/walk.mjs --seed ${seed} --steps ${steps}\n  trail: ${JSON.stringify(trail.slice(-15))}`);
  };
  const frozenUntil = new Map(); // page → when its main thread runs again
  const awake = () => tabs.filter((p) => (frozenUntil.get(p) ?? 0) <= Date.now());
  const open = async () => {
    const page = await openTab(context, baseUrl, app, OPTIONS);
    await page.evaluate(install);
    page.clientId = await page.evaluate(() => window.client.id);
    tabs.push(page);
    stats.opened += 1;
  };
  try {
    await open();
    for (let i = 0; i < steps; i += 1) {
      const step = pickStep(r, tabs);
      trail.push(step);
      stats.steps += 1;
      log(step);
      const page = step.tab === undefined ? null : tabs[step.tab];
      switch (step.op) {
        case 'open':
          await open();
          break;
        case 'close':
          tabs.splice(step.tab, 1);
          await page.close();
          stats.closed += 1;
          break;
        case 'crash':
          tabs.splice(step.tab, 1);
          await crash(context, page);
          stats.crashed += 1;
          break;
        case 'freeze':
          await holdBusy(page, step.ms);
          frozenUntil.set(page, Date.now() + step.ms + 50);
          stats.frozen += 1;
          break;
        case 'connect':
          stats.connects += 1;
          await page.evaluate((key) => {
            window.walk.handles[key]?.destroy();
            window.walk.handles[key] = null;
            window.client.connectBackend({ key, spawn: { tag: 'walk' } }, { reconnect: true }).then(
              (handle) => (window.walk.handles[key] = handle),
              () => {},
            );
          }, step.key);
          break;
        case 'terminate':
          stats.terminates += 1;
          await page.evaluate(({ key, hard }) => {
            const handle = window.walk.handles[key];
            if (handle?.backendId) window.client.terminate(handle.backendId, { hard }).catch(() => {});
          }, step);
          break;
        case 'request': {
          counter += 1;
          stats.requests += 1;
          const n = `${seed}-${counter}`;
          await page.evaluate(({ key, n }) => {
            const handle = key === null ? window.walk.main : window.walk.handles[key];
            if (handle) window.walk.request(handle, n);
          }, { key: step.key, n });
          break;
        }
        case 'wait':
          await new Promise((resolve) => setTimeout(resolve, step.ms));
          break;
      }
      await check();
    }
    return { seed, steps: trail, stats };
  } finally {
    await context.close();
  }

  /** Every rule, once the live tabs settle; a frozen tab is left out until it wakes. */
  async function check() {
    const running = awake();
    if (running.length === 0) return;
    // Exactly one leader and one epoch among the tabs that run (a frozen leader taken over
    // does not count: it learns it lost the lead when it wakes, and is checked then).
    // The tabs that run are looked at afresh each time: a tab that wakes meanwhile counts again.
    let seen = '';
    try {
      await waitUntil(
        async () => {
          const now = awake();
          const states = await Promise.all(now.map((p) => p.evaluate(() => [window.client.role, window.client.epoch])));
          seen = JSON.stringify(states);
          return states.filter(([role]) => role === 'leader').length === 1 && new Set(states.map(([, e]) => e)).size === 1;
        },
        { timeout: SETTLE_MS, what: 'exactly one leader and one epoch among the running tabs' },
      );
    } catch (error) {
      fail(`${error.message}: [role, epoch] of each running tab: ${seen}`);
    }
    // Every running tab is answered by the default backend (within the bound). A request that a
    // failover under way ends with `backend-lost` (never resent, as documented) is asked again.
    const answers = await Promise.all(
      running.map((p) =>
        p.evaluate(async (timeoutMs) => {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const left = deadline - Date.now();
            if (left <= 0) return 'error timeout';
            const answer = await window.walk.main.request('echo', 'ping', { timeoutMs: left }).then(
              (v) => v,
              (e) => `error ${e?.code}`,
            );
            if (answer !== 'error backend-lost') return answer;
          }
        }, SETTLE_MS),
      ),
    );
    if (answers.some((a) => a !== 'ping')) fail(`a live tab was not served by the default backend: ${JSON.stringify(answers)}`);
    // Every keyed handle that is not terminated is served too: a `reconnect` handle whose backend
    // was lost with its tab (the coordinator's host among them) follows its key to a new one.
    const keyed = await Promise.all(
      running.map((p) =>
        p.evaluate(async (timeoutMs) => {
          const deadline = Date.now() + timeoutMs;
          const served = {};
          for (const [key, handle] of Object.entries(window.walk.handles)) {
            if (!handle || handle.isTerminated()) continue;
            for (;;) {
              const left = deadline - Date.now();
              if (left <= 0) {
                served[key] = `error timeout (${handle.status()?.status} of ${handle.backendId})`;
                break;
              }
              const answer = await handle.request('echo', 'ping', { timeoutMs: left }).then(
                (v) => v,
                (e) => `error ${e?.code}`,
              );
              if (answer === 'error backend-lost') continue;
              // Terminated from another tab meanwhile: nothing more to ask of it.
              served[key] = answer === 'error backend-terminated' && handle.isTerminated() ? 'ping' : answer;
              break;
            }
          }
          return served;
        }, SETTLE_MS),
      ),
    );
    const unserved = keyed.flatMap((served, i) => Object.entries(served).filter(([, a]) => a !== 'ping').map(([key, a]) => `tab ${i} ${key}: ${a}`));
    if (unserved.length) fail(`a keyed handle of a live tab was not served: ${unserved.join('; ')}`);
    // No request handled twice (by any worker, dead ones included).
    for (const page of running) {
      for (const { n, worker } of await page.evaluate(() => window.walk.handled.splice(0))) {
        const before = handled.get(n);
        if (before !== undefined && before !== worker) fail(`request ${n} handled by ${before} and by ${worker}`);
        if (before === undefined) stats.handled += 1;
        handled.set(n, worker);
      }
    }
    // At most one live worker per key, and no lock left behind (a frozen tab's workers
    // hold theirs until it wakes: the bounded wait covers the longest freeze).
    const prefix = await running[0].evaluate(() => `tabworker:${window.client.deployment}:`);
    const ids = new Set(tabs.map((p) => p.clientId));
    const probe = running[0];
    let last = '';
    const settled = await waitUntil(
      async () => {
        const locks = (await probe.evaluate(() => window.walk.locks())).filter((l) => l.name.startsWith(prefix));
        await probe.evaluate(() => window.walk.takeCensus());
        const liveness = locks.filter((l) => l.name.startsWith(`${prefix}liveness:`));
        const answers = await waitUntil(
          async () => {
            const got = await probe.evaluate(() => window.walk.census);
            return got.filter((c) => c.key !== null).length >= liveness.length ? got : null;
          },
          { timeout: 2_000, what: 'every live worker to answer the census' },
        ).catch(() => null);
        if (!answers) return (last = `${liveness.length} workers hold a liveness lock, fewer answered the census`), null;
        // A standby worker (loaded in the next tab in line, not started) has no key yet; one at most.
        const census = answers.filter((c) => c.key !== null);
        const standbys = answers.length - census.length;
        if (standbys > 1) return (last = `${standbys} standby workers`), null;
        const byKey = new Map();
        for (const { key } of census) byKey.set(key, (byKey.get(key) ?? 0) + 1);
        const doubled = [...byKey].filter(([, count]) => count > 1);
        if (doubled.length) return (last = `live workers per key: ${JSON.stringify(doubled)}`), null;
        const owner = (name) => name.slice(prefix.length).split(':');
        const tabLocks = locks.filter((l) => owner(l.name)[0] === 'tab').map((l) => owner(l.name)[1]);
        const strayTabs = tabLocks.filter((id) => !ids.has(id));
        const strayHosted = locks.filter((l) => owner(l.name)[0] === 'hosted-by' && !ids.has(owner(l.name)[1]));
        const straySessions = locks.filter((l) => owner(l.name)[0] === 'session' && !ids.has(owner(l.name)[1].replace(/\.\d+$/, '')));
        const keyLocks = locks.filter((l) => owner(l.name)[0] === 'key').length;
        if (tabLocks.length !== ids.size || strayTabs.length) return (last = `tab locks ${JSON.stringify(tabLocks)} for tabs ${[...ids]}`), null;
        if (strayHosted.length || straySessions.length) return (last = `locks of gone tabs: ${JSON.stringify([...strayHosted, ...straySessions])}`), null;
        if (keyLocks !== census.length) return (last = `${keyLocks} key locks for ${census.length} live workers`), null;
        if (locks.filter((l) => owner(l.name)[0] === 'leader').length !== 1) return (last = 'not one leader lock'), null;
        return true;
      },
      { timeout: SETTLE_MS, what: 'the workers and locks to settle' },
    ).catch(() => null);
    if (!settled) fail(last || 'the workers and locks did not settle');
  }
}
