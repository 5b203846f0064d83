// Builds the npm package as wasm-pack.toml says.
//
//   node scripts/build.mjs
//
// Every setting of wasm-pack.toml becomes a wasm-pack flag; wasm-opt is run
// here rather than by wasm-pack, so that wasm-pack never downloads anything.
//
// The package holds one module per role, each built with only that role's
// Cargo feature: the page's (`tabworker`, built by wasm-pack), the backend
// worker's (`tabworker/backend`) and the coordinator's
// (`tabworker/coordinator`), so that a worker loads only what it runs.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The npm package binaryen's wasm-opt (pinned in package.json): Debian's is too old for this module. */
const WASM_OPT = join(root, 'node_modules', '.bin', 'wasm-opt');
const PROFILES = { release: '--release', dev: '--dev', profiling: '--profiling' };
const TARGETS = ['web', 'bundler', 'nodejs', 'no-modules', 'deno'];
/** The roles built as modules of their own beside the page's, by the name of their entry. */
export const WORKER_ROLES = ['backend', 'coordinator'];
/**
 * The entries written by hand around a role's wasm-bindgen module (src/web/entry/<role>.js and
 * .d.ts): the backend's `init()` compiles the wasm once per tab. Its wasm-bindgen module is then
 * named `<role>_bindgen`.
 */
const WRAPPED_ROLES = ['backend'];

/** The name wasm-bindgen gives the files of `role`'s module: `<name>.js`, `<name>_bg.wasm`. */
export function bindgenName(role) {
  return WRAPPED_ROLES.includes(role) ? `${role}_bindgen` : role;
}

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
  // The main entry is the page's: the tab role alone.
  args.push('--', '--no-default-features', '--features', 'tab');
  return args;
}

/** Where cargo writes the wasm32 build of `settings.profile`. */
function cargoOut(settings) {
  return join(root, 'target', 'wasm32-unknown-unknown', settings.profile === 'dev' ? 'debug' : 'release');
}

/**
 * Each role's module before wasm-bindgen and wasm-opt, named by role (`tab`,
 * `backend`, `coordinator`): it still has the function names the size
 * breakdown of the benchmark reads.
 */
export function roleModule(role) {
  return join(root, 'target', 'roles', `${role}.wasm`);
}

export function build(settings = readSettings()) {
  const run = (cmd, args) => {
    console.log(`$ ${cmd} ${args.join(' ')}`);
    execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
  };
  const optimise = (wasm) => {
    if (!settings.wasmOpt.enabled) return;
    const before = statSync(wasm).size;
    run(WASM_OPT, [wasm, '-o', wasm, ...settings.wasmOpt.args]);
    console.log(`wasm-opt: ${before} → ${statSync(wasm).size} bytes`);
  };
  mkdirSync(join(root, 'target', 'roles'), { recursive: true });
  run('wasm-pack', wasmPackArgs(settings));
  copyFileSync(join(cargoOut(settings), 'tabworker.wasm'), roleModule('tab'));
  const wasm = join(root, settings.outDir, `${settings.outName}_bg.wasm`);
  optimise(wasm);
  for (const role of WORKER_ROLES) {
    const profile = settings.profile === 'dev' ? [] : ['--release'];
    run('cargo', ['build', '--lib', '--target', 'wasm32-unknown-unknown', ...profile, '--no-default-features', '--features', role]);
    copyFileSync(join(cargoOut(settings), 'tabworker.wasm'), roleModule(role));
    const name = bindgenName(role);
    run('wasm-bindgen', ['--target', settings.target, '--out-dir', join(root, settings.outDir), '--out-name', name, roleModule(role)]);
    optimise(join(root, settings.outDir, `${name}_bg.wasm`));
    if (WRAPPED_ROLES.includes(role)) {
      for (const ext of ['js', 'd.ts']) {
        copyFileSync(join(root, 'src', 'web', 'entry', `${role}.${ext}`), join(root, settings.outDir, `${role}.${ext}`));
      }
    }
  }
  addEntries(settings);
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
 * Adds the package's `<name>/react` entry (src/web/react/) and its
 * `<name>/server` entry (src/server/: the Node helper that calls a Plane
 * cluster) and says in its package.json what every entry is: the `exports` of
 * the page's module, the workers' modules, the react and the server ones,
 * their files, and React as an optional peer dependency (only the react entry
 * imports it).
 */
export function addEntries(settings) {
  const dir = join(root, settings.outDir);
  const main = `./${settings.outName}.js`;
  const source = join(root, 'src', 'web', 'react');
  writeFileSync(join(dir, 'react.js'), readFileSync(join(source, 'index.js'), 'utf8'));
  const types = readFileSync(join(source, 'index.d.ts'), 'utf8').replaceAll("'./tabworker.js'", `'${main}'`);
  writeFileSync(join(dir, 'react.d.ts'), types);
  const server = join(root, 'src', 'server');
  writeFileSync(join(dir, 'server.js'), readFileSync(join(server, 'index.js'), 'utf8'));
  const serverTypes = readFileSync(join(server, 'index.d.ts'), 'utf8').replaceAll("'./tabworker.js'", `'${main}'`);
  writeFileSync(join(dir, 'server.d.ts'), serverTypes);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const workerFiles = WORKER_ROLES.flatMap((role) => {
    const name = bindgenName(role);
    const files = [`${name}.js`, `${name}_bg.wasm`, `${name}.d.ts`];
    return name === role ? files : [...files, `${role}.js`, `${role}.d.ts`];
  });
  manifest.files = [...new Set([...(manifest.files ?? []), ...workerFiles, 'react.js', 'react.d.ts', 'server.js', 'server.d.ts'])];
  manifest.exports = {
    '.': { types: `./${settings.outName}.d.ts`, default: main },
    ...Object.fromEntries(WORKER_ROLES.map((role) => [`./${role}`, { types: `./${role}.d.ts`, default: `./${role}.js` }])),
    './react': { types: './react.d.ts', default: './react.js' },
    './server': { types: './server.d.ts', default: './server.js' },
  };
  manifest.peerDependencies = { react: '>=18' };
  manifest.peerDependenciesMeta = { react: { optional: true } };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`entries: . (${main}), ${WORKER_ROLES.map((r) => `./${r}`).join(', ')}, ./react, ./server`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  build();
}
