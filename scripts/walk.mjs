// The long random walk over real tabs (tests/browser/walk.mjs):
//   node scripts/walk.mjs [--seeds 1,2,3] [--seed N] [--steps 1000]
// prints each walk's figures; a failing walk prints its seed and trail, and
// `--seed N --steps M` replays it.
import { chromium } from 'playwright-core';
import { startServer } from './serve.mjs';
import { CHROMIUM_ARGS } from '../tests/browser/harness.mjs';
import { runWalk } from '../tests/browser/walk.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
};
const steps = Number(arg('steps', 1000));
const seeds = arg('seed', null) !== null ? [Number(arg('seed'))] : arg('seeds', '11,12,13').split(',').map(Number);

const server = await startServer();
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
let failed = false;
try {
  for (const seed of seeds) {
    const started = Date.now();
    try {
      const { stats } = await runWalk({ browser, baseUrl: server.url, seed, steps });
      console.log(`seed ${seed}: ok in ${Math.round((Date.now() - started) / 1000)} s ${JSON.stringify(stats)}`);
    } catch (error) {
      failed = true;
      console.log(`seed ${seed}: FAILED after ${Math.round((Date.now() - started) / 1000)} s\n${error.message}`);
    }
  }
} finally {
  await browser.close();
  await server.close();
}
process.exit(failed ? 1 : 0);
