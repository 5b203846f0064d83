// tabworker under a bundler: the app in tests/vite-app/, copied outside the
// crate with the `npm pack`ed package as its `tabworker` dependency, wired
// with worker factories as the README says. Its Vite production build, served
// as static files, and the Vite dev server both run a connect, requests and —
// for the build — a failover, with no failed load and no console error; the
// build keeps no bare `tabworker` import.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { build, createServer } from 'vite';
import { root } from '../../scripts/build.mjs';
import { startServer } from '../../scripts/serve.mjs';
import { oneLeader, uniqueApp, useBrowser, waitUntil } from './harness.mjs';

const env = useBrowser();
const app = {};

before(async () => {
  app.dir = mkdtempSync(join(tmpdir(), 'tabworker-vite-app-'));
  cpSync(join(root, 'tests', 'vite-app'), app.dir, { recursive: true });
  // The package as npm would install it: packed, then unpacked into node_modules.
  const packed = execFileSync('npm', ['pack', join(root, 'pkg'), '--pack-destination', app.dir, '--silent'], {
    encoding: 'utf8',
  }).trim();
  const installed = join(app.dir, 'node_modules', 'tabworker');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', join(app.dir, packed.split('\n').at(-1)), '-C', installed, '--strip-components=1']);
  await build({ root: app.dir, logLevel: 'warn', build: { outDir: join(app.dir, 'dist'), emptyOutDir: true } });
  app.static = await startServer({ dir: join(app.dir, 'dist') });
});

after(async () => {
  await app.static?.close();
  if (app.dir) rmSync(app.dir, { recursive: true, force: true });
});

/** Every file under `dir`. */
function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** Opens `n` tabs of the app at `base` in `context`, recording failed loads and console errors. */
async function openAppTabs(context, base, name, n) {
  const problems = [];
  const pages = [];
  for (let i = 0; i < n; i++) {
    const page = await context.newPage();
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
    });
    page.on('requestfailed', (request) => problems.push(`failed ${request.url()}: ${request.failure()?.errorText}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()} (${message.location().url})`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await page.goto(`${base}/index.html?app=${encodeURIComponent(name)}`);
    await waitUntil(() => page.evaluate(() => window.app !== undefined), { timeout: 15_000, what: 'the app to join' });
    pages.push(page);
  }
  return { pages, problems };
}

test('the production build: no bare import is left, and a connect, requests and a failover work', async () => {
  const bare = files(join(app.dir, 'dist'))
    .filter((file) => file.endsWith('.js'))
    .filter((file) => /(from\s*|import\s*\(\s*)["']tabworker["']/.test(readFileSync(file, 'utf8')));
  assert.deepEqual(bare, [], 'every `tabworker` import was bundled');
  assert.ok(files(join(app.dir, 'dist')).some((file) => file.endsWith('.wasm')), 'the wasm is among the assets');

  const context = await env.browser.newContext();
  try {
    const { pages, problems } = await openAppTabs(context, app.static.url, uniqueApp('vite-build'), 2);
    const leader = await oneLeader(pages);
    const follower = pages[1 - leader];
    const first = await follower.evaluate(async () => {
      const { client, main } = window.app;
      const sum = await main.request('add', { a: 1, b: 2 });
      const notes = client.backend(await client.connect({ key: 'notes-1', spawn: { tag: 'notes' } }));
      const keyed = await notes.request('add', { a: 2, b: 3 });
      return { sum, keyed, worker: await main.request('worker') };
    });
    assert.deepEqual([first.sum, first.keyed], [3, 5]);
    await pages[leader].close();
    await waitUntil(() => follower.evaluate(() => window.app.client.role === 'leader'), {
      timeout: 10_000,
      what: 'the follower to lead',
    });
    const after = await follower.evaluate(async () => ({
      sum: await window.app.main.request('add', { a: 4, b: 5 }, { timeoutMs: 10_000 }),
      worker: await window.app.main.request('worker'),
      role: window.app.client.role,
    }));
    assert.equal(after.sum, 9);
    assert.notEqual(after.worker, first.worker, 'a new backend worker serves after the failover');
    assert.equal(after.role, 'leader');
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('the Vite dev server: the same app joins, connects and is answered', async () => {
  const server = await createServer({ root: app.dir, logLevel: 'warn', server: { host: '127.0.0.1', port: 0 } });
  await server.listen();
  const context = await env.browser.newContext();
  try {
    const base = server.resolvedUrls.local[0].replace(/\/$/, '');
    const { pages, problems } = await openAppTabs(context, base, uniqueApp('vite-dev'), 2);
    await oneLeader(pages);
    for (const page of pages) {
      const answers = await page.evaluate(async () => {
        const { client, main } = window.app;
        const notes = client.backend(await client.connect({ key: 'notes-dev', spawn: { tag: 'notes' } }));
        return [await main.request('add', { a: 1, b: 1 }), await notes.request('add', { a: 2, b: 2 })];
      });
      assert.deepEqual(answers, [2, 4]);
    }
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
    await server.close();
  }
});
