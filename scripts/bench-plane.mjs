// In one run, side by side: the example backend written once in Rust
// (www/rust-backend), run in the browser (a worker of the leader tab) and
// run by a Plane cluster (the native executable, behind Plane's proxy),
// each reached through the same SessionBackend API from one tab:
//
// - connect → ready: in the browser, `connectBackend({ key, spawn })` to a
//   new key until `ready()`; remote, the page asks the app's server (here a
//   local endpoint that calls `tabworker/server`'s `connect`), then
//   `client.backend(response).ready()`. Each new key starts a new backend.
// - request() round trip to a ready backend, beside the raw primitive under
//   it: a raw MessagePort echo for the browser (the bare echo backend), a
//   raw WebSocket round trip of the same JSON frame through Plane's proxy.
//
//   node scripts/bench-plane.mjs [--runs N]
//
// Needs the package built (node scripts/build.mjs) and the native example
// (cargo build -p counter-backend --release); starts its own Plane cluster
// (scripts/plane/cluster.mjs) and ends it. It asserts nothing.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { Plane } from '../pkg/server.js';
import { CHROMIUM_ARGS } from '../tests/browser/harness.mjs';
import { root } from './build.mjs';
import { startCluster } from './plane/cluster.mjs';
import { startServer } from './serve.mjs';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const RUNS = Number(args.runs);
const TRIPS = 200;
const BLOCK = 20;

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const ms = (x) => `${x.toFixed(1)} ms`;
const us = (x) => `${(x * 1000).toFixed(0)} µs`;

/** The app's server: POST /connect with a seed ConnectRequest answers Plane's ConnectResponse. */
function startAppServer(plane) {
  const server = createServer(async (req, res) => {
    const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'content-type' };
    if (req.method === 'OPTIONS') return res.writeHead(204, cors).end();
    let body = '';
    for await (const chunk of req) body += chunk;
    try {
      const response = await plane.connect(JSON.parse(body));
      res.writeHead(200, { ...cors, 'content-type': 'application/json' }).end(JSON.stringify(response));
    } catch (error) {
      res.writeHead(500, cors).end(String(error.message));
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() })));
}

const programs = mkdtempSync(join(tmpdir(), 'tabworker-bench-programs-'));
copyFileSync(join(root, 'target', 'release', 'counter-backend'), join(programs, 'counter-backend'));
const cluster = await startCluster({ programs, quiet: true });
const plane = new Plane({ controller: cluster.controller, image: 'counter-backend' });
const appServer = await startAppServer(plane);
const server = await startServer();
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const options = { backends: { counter: '/www/rust-backend/worker.js' } };
  await page.goto(`${server.url}/tests/browser/fixtures/tab.html?app=bench-plane-${Date.now()}&options=${encodeURIComponent(JSON.stringify(options))}`);
  await page.evaluate(() => window.ready);

  const figures = { browserReady: [], remoteReady: [], browserRequest: [], remoteRequest: [], port: [], socket: [], failures: 0 };
  for (let run = 0; run <= RUNS; run += 1) {
    try {
      const r = await page.evaluate(
        async ({ run, app, TRIPS, BLOCK }) => {
          const within = (promise, what) =>
            Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} took over 30 s`)), 30000))]);
          const blocks = async (once) => {
            const means = [];
            for (let b = 0; b < TRIPS / BLOCK; b += 1) {
              const t = performance.now();
              for (let i = 0; i < BLOCK; i += 1) await once(i);
              means.push((performance.now() - t) / BLOCK);
            }
            return means.sort((a, b) => a - b)[means.length >> 1];
          };
          // In the browser: a new key, started by the leader (this tab) in a worker.
          let t0 = performance.now();
          const local = await within(window.client.connectBackend({ key: `local-${run}`, spawn: { tag: 'counter' } }), 'connect');
          await within(local.ready(), 'local ready');
          const browserReady = performance.now() - t0;
          // Remote: the app's server connects; the tab follows the response.
          t0 = performance.now();
          const answer = await fetch(`${app}/connect`, { method: 'POST', body: JSON.stringify({ key: `remote-${run}`, spawn: true }) });
          const response = await answer.json();
          const remote = window.client.backend(response);
          await within(remote.ready(), 'remote ready');
          const remoteReady = performance.now() - t0;

          const browserRequest = await within(blocks(() => local.request('read', null)), 'local requests');
          const remoteRequest = await within(blocks(() => remote.request('read', null)), 'remote requests');
          // The raw primitives: a MessagePort echo (the default backend's session), and the same
          // request frame on a WebSocket of its own through Plane's proxy.
          const { port } = await window.client.connected();
          port.start();
          const portOnce = (i) =>
            new Promise((resolve) => {
              port.addEventListener('message', () => resolve(), { once: true });
              port.postMessage({ op: 'echo', value: i });
            });
          const socket = new WebSocket(response.url.replace(/^http/, 'ws'));
          await within(new Promise((resolve, reject) => ((socket.onopen = resolve), (socket.onerror = reject))), 'raw socket');
          let id = 0;
          const socketOnce = () =>
            new Promise((resolve) => {
              id += 1;
              const mine = id;
              socket.onmessage = ({ data }) => JSON.parse(data).id === mine && resolve();
              socket.send(JSON.stringify({ tw: 'request', caller: 0, id: mine, method: 'read', payload: null }));
            });
          const port_ = await within(blocks(portOnce), 'raw port');
          const socket_ = await within(blocks(socketOnce), 'raw socket trips');
          socket.close();
          local.destroy();
          remote.destroy();
          await window.client.terminate(local.backendId);
          return { browserReady, remoteReady, browserRequest, remoteRequest, port: port_, socket: socket_, remoteId: response.backend_id };
        },
        { run, app: appServer.url, TRIPS, BLOCK },
      );
      await plane.terminate(r.remoteId);
      if (run === 0) continue; // the warm-up
      for (const key of ['browserReady', 'remoteReady', 'browserRequest', 'remoteRequest', 'port', 'socket']) figures[key].push(r[key]);
    } catch (error) {
      figures.failures += 1;
      console.error(`run ${run} failed: ${error.message}`);
    }
  }
  const m = (key) => median(figures[key]);
  console.log(`tabworker: in the browser and in a Plane cluster, the Rust example backend (${figures.browserReady.length} runs, medians; failed runs: ${figures.failures})`);
  console.log(`connect → ready:        in the browser ${ms(m('browserReady'))}   Plane ${ms(m('remoteReady'))}   (${(m('remoteReady') / m('browserReady')).toFixed(1)}×)`);
  console.log(
    `request() round trip:   in the browser ${us(m('browserRequest'))} (raw MessagePort echo ${us(m('port'))})   ` +
      `Plane ${us(m('remoteRequest'))} (raw WebSocket through the proxy ${us(m('socket'))})`,
  );
} finally {
  await browser.close();
  await server.close();
  appServer.close();
  await cluster.stop();
  rmSync(programs, { recursive: true, force: true });
}
