// One tab of the app. The workers are given as factories, the pattern Vite
// follows to bundle each worker with its imports.
import init, { Client } from 'tabworker';

await init();
const client = new Client({
  name: new URLSearchParams(location.search).get('app') ?? 'vite-app',
  coordinator: (name) => new SharedWorker(new URL('./coordinator.js', import.meta.url), { type: 'module', name }),
  backend: (name) => new Worker(new URL('./backend.js', import.meta.url), { type: 'module', name }),
  backends: {
    notes: (name) => new Worker(new URL('./backend.js', import.meta.url), { type: 'module', name }),
  },
});
await client.initialize();
const main = client.backend();
window.app = { client, main };
window.client = client;
document.getElementById('state').textContent = 'joined';
