// What an app using tabworker sets in its Vite config: workers as ES modules
// (the worker scripts use top-level await), and tabworker left out of the
// dev server's dependency pre-bundling, so its wasm stays beside its JS.
export default {
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['tabworker'] },
};
