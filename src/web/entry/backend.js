// The backend worker's entry, `tabworker/backend`: everything of the backend
// module (built by wasm-bindgen as backend_bindgen.js), with an `init()` that
// compiles the wasm at most once per tab. A worker the leader tab started
// (its name has `:backend:`) first asks the tab for the compiled
// `WebAssembly.Module`; given one, it only instantiates it. Otherwise, or if
// that module is of another build and does not link, it fetches and compiles
// its own as usual, and offers it to the tab for the next worker.
import initBindings, { compiledModule } from './backend_bindgen.js';

export * from './backend_bindgen.js';

const ASK = 'tabworker:module?';
const OFFER = 'tabworker:module';

/** Whether this is a backend worker a tabworker tab started (and so answers `ASK`). */
function startedByTab() {
  return (
    typeof DedicatedWorkerGlobalScope === 'function' &&
    self instanceof DedicatedWorkerGlobalScope &&
    self.name.includes(':backend:')
  );
}

/** The tab's compiled module, or null if it has none yet. */
function askTab() {
  return new Promise((resolve) => {
    const take = (event) => {
      if (event.data?.type !== OFFER) return;
      // The tab's answer is for this entry alone, not for the backend's own listener.
      event.stopImmediatePropagation();
      self.removeEventListener('message', take);
      resolve(event.data.module instanceof WebAssembly.Module ? event.data.module : null);
    };
    self.addEventListener('message', take);
    self.postMessage({ type: ASK });
  });
}

/**
 * Loads the backend module: with no argument, the tab's compiled module or this package's wasm;
 * with one, what wasm-bindgen's `init` takes.
 */
export default async function init(moduleOrPath) {
  if (moduleOrPath !== undefined || !startedByTab()) return initBindings(moduleOrPath);
  const given = await askTab();
  if (given) {
    try {
      return await initBindings({ module_or_path: given });
    } catch {
      // Compiled from another build's wasm: this one's own follows.
    }
  }
  const exports = await initBindings();
  if (!given) self.postMessage({ type: OFFER, module: compiledModule() });
  return exports;
}
