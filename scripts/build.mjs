// Builds the npm package as wasm-pack.toml says.
//
//   node scripts/build.mjs
//
// Every setting of wasm-pack.toml becomes a wasm-pack flag; wasm-opt is run
// here rather than by wasm-pack, so that wasm-pack never downloads anything.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The npm package binaryen's wasm-opt (pinned in package.json): Debian's is too old for this module. */
const WASM_OPT = join(root, 'node_modules', '.bin', 'wasm-opt');
const PROFILES = { release: '--release', dev: '--dev', profiling: '--profiling' };
const TARGETS = ['web', 'bundler', 'nodejs', 'no-modules', 'deno'];

/** Reads and checks wasm-pack.toml; throws naming the bad setting. */
export function readSettings(file = join(root, 'wasm-pack.toml')) {
  const toml = parse(readFileSync(file, 'utf8'));
  const pkg = toml.package ?? {};
  const opt = toml['wasm-opt'] ?? {};
  const settings = {
    scope: pkg.scope ?? '',
    outName: pkg.out_name ?? 'tabworker',
    outDir: pkg.out_dir ?? 'pkg',
    target: pkg.target ?? 'web',
    profile: pkg.profile ?? 'release',
    wasmOpt: { enabled: opt.enabled ?? true, args: opt.args ?? ['-Os'] },
  };
  const fail = (what) => {
    throw new Error(`wasm-pack.toml: ${what}`);
  };
  if (!(settings.profile in PROFILES)) fail(`profile must be one of ${Object.keys(PROFILES)}, not "${settings.profile}"`);
  if (!TARGETS.includes(settings.target)) fail(`target must be one of ${TARGETS}, not "${settings.target}"`);
  if (typeof settings.scope !== 'string' || typeof settings.outName !== 'string' || typeof settings.outDir !== 'string')
    fail('scope, out_name and out_dir must be strings');
  if (typeof settings.wasmOpt.enabled !== 'boolean') fail('[wasm-opt] enabled must be true or false');
  if (!Array.isArray(settings.wasmOpt.args) || settings.wasmOpt.args.some((a) => typeof a !== 'string'))
    fail('[wasm-opt] args must be a list of strings');
  return settings;
}

/** The wasm-pack command line for `settings`. */
export function wasmPackArgs(settings) {
  const args = ['build', PROFILES[settings.profile], '--mode', 'no-install', '--no-opt'];
  args.push('--target', settings.target, '--out-dir', settings.outDir, '--out-name', settings.outName);
  if (settings.scope) args.push('--scope', settings.scope);
  return args;
}

export function build(settings = readSettings()) {
  const run = (cmd, args) => {
    console.log(`$ ${cmd} ${args.join(' ')}`);
    execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
  };
  run('wasm-pack', wasmPackArgs(settings));
  const wasm = join(root, settings.outDir, `${settings.outName}_bg.wasm`);
  if (settings.wasmOpt.enabled) {
    const before = statSync(wasm).size;
    run(WASM_OPT, [wasm, '-o', wasm, ...settings.wasmOpt.args]);
    console.log(`wasm-opt: ${before} → ${statSync(wasm).size} bytes`);
  }
  addReactEntry(settings);
  buildRustExample(settings);
  return { wasm, dir: join(root, settings.outDir) };
}

/**
 * Builds the example backend written in Rust (www/rust-backend, a member of
 * this workspace) into www/rust-backend/pkg/, as an app builds its own:
 * cargo for wasm32, then wasm-bindgen --target web (and the same wasm-opt).
 */
export function buildRustExample(settings) {
  const run = (cmd, args) => {
    console.log(`$ ${cmd} ${args.join(' ')}`);
    execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
  };
  run('cargo', ['build', '-p', 'counter-backend', '--target', 'wasm32-unknown-unknown', '--release']);
  const out = join(root, 'www', 'rust-backend', 'pkg');
  const built = join(root, 'target', 'wasm32-unknown-unknown', 'release', 'counter_backend.wasm');
  run('wasm-bindgen', ['--target', 'web', '--out-dir', out, built]);
  if (settings.wasmOpt.enabled) {
    const wasm = join(out, 'counter_backend_bg.wasm');
    run(WASM_OPT, [wasm, '-o', wasm, ...settings.wasmOpt.args]);
  }
}

/**
 * Adds the package's second entry, `<name>/react` (src/web/react/), and says
 * so in its package.json: the `exports` of both entries, and React as an
 * optional peer dependency (only the react entry imports it).
 */
export function addReactEntry(settings) {
  const dir = join(root, settings.outDir);
  const main = `./${settings.outName}.js`;
  const source = join(root, 'src', 'web', 'react');
  writeFileSync(join(dir, 'react.js'), readFileSync(join(source, 'index.js'), 'utf8'));
  const types = readFileSync(join(source, 'index.d.ts'), 'utf8').replaceAll("'./tabworker.js'", `'${main}'`);
  writeFileSync(join(dir, 'react.d.ts'), types);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  manifest.files = [...new Set([...(manifest.files ?? []), 'react.js', 'react.d.ts'])];
  manifest.exports = {
    '.': { types: `./${settings.outName}.d.ts`, default: main },
    './react': { types: './react.d.ts', default: './react.js' },
  };
  manifest.peerDependencies = { react: '>=18' };
  manifest.peerDependenciesMeta = { react: { optional: true } };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log('added the react entry: react.js, react.d.ts');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  build();
}
