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
// Each group lives in a module of scripts/bench/, which exports the function
// that runs it: failover and crash in failover.mjs; join, cold and connect in
// join.mjs; api and bytes in api.mjs; scale-tabs and scale-backends in
// scale.mjs; memory in memory.mjs; size in size.mjs. The raw floors are in
// floors.mjs, the page helpers and fixtures the groups share in pages.mjs,
// the DevTools reader of memory and idleness in inspector.mjs, and the
// figures' formatting, the runs and the targets in report.mjs. This script
// parses the arguments, runs the groups in the order above and prints.
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
import { readdirSync, statSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from '../tests/browser/harness.mjs';
import { apiGroup } from './bench/api.mjs';
import { crashGroup, failoverGroup } from './bench/failover.mjs';
import { rawFloors } from './bench/floors.mjs';
import { Inspector } from './bench/inspector.mjs';
import { coldGroup, connectGroup, joinGroup } from './bench/join.mjs';
import { memoryGroup } from './bench/memory.mjs';
import { pageProblemCount } from './bench/pages.mjs';
import { group, targetVerdicts } from './bench/report.mjs';
import { scaleBackendsGroup, scaleTabsGroup } from './bench/scale.mjs';
import { packageSize, sizeLines } from './bench/size.mjs';
import { readSettings, root } from './build.mjs';
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
  const floors = await rawFloors(browser, server.url, RUNS, { measure: needFloors, crash: on('crash'), lines });

  /** @type {import('./bench/report.mjs').Bench} */
  const bench = { browser, url: server.url, builds, runs: RUNS, floors, inspector, lines, judged, closeFailovers: new Map() };
  if (on('failover')) await group('failover', lines, () => failoverGroup(bench));
  if (on('crash')) await group('crash', lines, () => crashGroup(bench));
  if (on('join')) await group('join', lines, () => joinGroup(bench));
  if (on('cold')) await group('cold', lines, () => coldGroup(bench));
  if (on('connect')) await group('connect', lines, () => connectGroup(bench));
  if (on('api') || on('bytes')) await group('api', lines, () => apiGroup(bench, { requests: on('api'), bytes: on('bytes') }));
  if (on('scale-tabs')) await group('scale-tabs', lines, () => scaleTabsGroup(bench));
  if (on('scale-backends')) await group('scale-backends', lines, () => scaleBackendsGroup(bench));
  if (on('memory')) await group('memory', lines, () => memoryGroup(bench));
  if (on('size')) await group('size', lines, async () => lines.push(...sizeLines()));
  if (baselineServer) lines.push(`baseline ${baselineName}: ${packageSize(args.baseline)}`);

  const cpu = cpus();
  console.log(`\ntabworker benchmark (headless Chromium ${browser.version()}, ${RUNS} run${RUNS > 1 ? 's' : ''} each unless a line says otherwise)`);
  console.log(`machine: ${platform()} ${release()}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, node ${process.version}`);
  console.log(`package: built ${new Date(stampAtStart).toISOString()}, at commit ${commit}`);
  for (const line of lines) console.log(line);
  console.log(`targets (judged on this run's figures, not enforced): ${targetVerdicts({ ...judged, handoff: floors.handoff }).join('; ')}`);
  const stampAtEnd = packageStamp();
  if (stampAtEnd !== stampAtStart) {
    console.log(
      `NOTE: the package in pkg/ was rebuilt during this run (at ${new Date(stampAtEnd).toISOString()}): the figures measured before and after are of two builds`,
    );
  }
  console.log(`page console errors/warnings and uncaught errors: ${pageProblemCount()}; total time ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
} finally {
  await browser.close();
  await server.close();
  await baselineServer?.close();
}
