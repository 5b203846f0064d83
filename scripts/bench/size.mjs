// The size group of scripts/bench.mjs: what each role's context loads, raw
// and gzipped, and what its wasm is made of, read by twiggy (a real size
// profiler: `cargo install twiggy --locked`).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { bindgenName, readSettings, roleModule, root } from '../build.mjs';

/**
 * The items of the wasm module at `path` as twiggy (a real size profiler,
 * `cargo install twiggy --locked`) reads them: [{ name, size, kind }], each
 * function's name demangled and without its hash, `kind` one of `code`,
 * `data`, `import`, `export`, `type`, `custom` or `other`. Throws, saying
 * how to install it, when twiggy is missing.
 */
function twiggyItems(path) {
  let json;
  try {
    json = execFileSync('twiggy', ['top', '--format', 'json', path], { maxBuffer: 1 << 28 });
  } catch (error) {
    if (error.code === 'ENOENT') throw new Error('the size breakdown needs twiggy: cargo install twiggy --locked');
    throw error;
  }
  const kind = (name) => {
    if (/^code\[\d+\]$|^code section headers$/.test(name)) return 'code';
    if (/^data\[\d+\]$|^data segment |^data section headers$/.test(name)) return 'data';
    if (/^import /.test(name)) return 'import';
    if (/^export /.test(name)) return 'export';
    if (/^type\[\d+\]/.test(name)) return 'type';
    if (/^custom section |^".*" subsection$/.test(name)) return 'custom';
    if (/^(global|elem|table|memory)\[\d+\]$| section headers$|^wasm magic bytes$/.test(name)) return 'other';
    return 'code';
  };
  return JSON.parse(json).map(({ name, shallow_size: size }) => ({ name: name.replace(/::h[0-9a-f]{16}$/, ''), size, kind: kind(name) }));
}

/** A file of the package built in checkout `dir`: its size raw and gzipped. */
function packageFile(dir, name) {
  const bytes = readFileSync(join(dir, readSettings().outDir, name));
  return { raw: bytes.length, gz: gzipSync(bytes, { level: 9 }).length };
}

/** The wasm + JS size of the package built in checkout `dir`, raw and gzipped. */
export function packageSize(dir) {
  const { outName } = readSettings();
  const [wasm, js] = [`${outName}_bg.wasm`, `${outName}.js`].map((name) => packageFile(dir, name));
  return `package wasm + JS ${(wasm.raw + js.raw).toLocaleString('en')} bytes, ${((wasm.gz + js.gz) / 1024).toFixed(1)} KB gzipped`;
}

/** The package's sizes and what its wasm is made of, as lines to print. */
export function sizeLines() {
  const settings = readSettings();
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  const file = (name) => packageFile(root, name);
  // One module per role: what the page, a backend worker and the coordinator each load. A
  // role whose entry is written by hand around its wasm-bindgen module loads both scripts.
  const entries = [
    ['page (tabworker)', settings.outName, 'tab'],
    ['backend worker (tabworker/backend)', 'backend', 'backend'],
    ['coordinator (tabworker/coordinator)', 'coordinator', 'coordinator'],
  ].map(([label, name, role]) => {
    const bindgen = role === 'tab' ? name : bindgenName(role);
    const scripts = [...new Set([`${name}.js`, `${bindgen}.js`])].map(file);
    const js = { raw: scripts.reduce((sum, f) => sum + f.raw, 0), gz: scripts.reduce((sum, f) => sum + f.gz, 0) };
    return { label, role, wasm: file(`${bindgen}_bg.wasm`), js };
  });
  const react = file('react.js');
  const lines = [];
  for (const { label, wasm, js } of entries) {
    lines.push(
      `${label}: wasm ${wasm.raw.toLocaleString('en')} bytes (${kb(wasm.gz)} gzipped) + JS ${js.raw.toLocaleString('en')} bytes (${kb(js.gz)} gzipped) = ${kb(wasm.gz + js.gz)} gzipped  (target: under 120 KB, aim 80 KB)`,
    );
  }
  const whole = entries.reduce((sum, e) => sum + e.wasm.gz + e.js.gz, 0);
  lines.push(`whole package, every entry: ${kb(whole)} gzipped; react.js ${react.raw.toLocaleString('en')} bytes (${kb(react.gz)} gzipped)`);
  try {
    const page = join(root, settings.outDir, `${settings.outName}_bg.wasm`);
    const byKind = new Map();
    for (const item of twiggyItems(page)) byKind.set(item.kind, (byKind.get(item.kind) ?? 0) + item.size);
    lines.push(`page wasm by kind (twiggy): ${[...byKind].sort((a, b) => b[1] - a[1]).map(([k, size]) => `${k} ${kb(size)}`).join(', ')}`);
  } catch (error) {
    lines.push(`(no breakdown of the page wasm: ${error.message})`);
  }
  for (const entry of entries) lines.push(...breakdown(entry.label, roleModule(entry.role), entry.role === 'tab' ? 12 : 0));
  return lines;
}

/** What the module of one role is made of, before wasm-opt: its code by crate, and its `top` largest functions. */
function breakdown(label, built, top) {
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  const lines = [];
  let functions;
  try {
    // wasm-bindgen runs the `describe` functions to learn the exported types and
    // then removes them: they are not in the package, so they are left out here.
    functions = twiggyItems(built).filter((f) => f.kind === 'code' && !/describe(_invoke)?$|__wbindgen_describe/.test(f.name));
  } catch (error) {
    return [`(no function breakdown of ${label}: ${error.message})`];
  }
  const total = functions.reduce((sum, f) => sum + f.size, 0);
  const byCrate = new Map();
  for (const f of functions) {
    // A trait impl `<T as Trait>` counts for T's crate; twiggy names a crate with its disambiguator (`core[…]`).
    const path = f.name.replace(/^[_<&]+|^(mut|dyn) /g, '').replace(/^[_<&]+/, '');
    const crate = path.split('::')[0].split(' ')[0].replace(/\[[0-9a-f]+\]$/, '') || '?';
    byCrate.set(crate, (byCrate.get(crate) ?? 0) + f.size);
  }
  const largest = (entries, n) => [...entries].sort((a, b) => b[1] - a[1]).slice(0, n);
  lines.push(
    `${label}, code by crate (before wasm-opt, without wasm-bindgen's describe functions, ${kb(total)}): ${largest(byCrate, 8)
      .map(([crate, size]) => `${crate} ${kb(size)}`)
      .join(', ')}`,
  );
  if (top) lines.push(`${label}, largest functions (before wasm-opt):`);
  for (const f of functions.sort((a, b) => b.size - a.size).slice(0, top)) {
    lines.push(`  ${kb(f.size).padStart(9)}  ${f.name.slice(0, 110)}`);
  }
  return lines;
}
