// The coordinator's SharedWorker entry: `new SharedWorker(new URL('./coordinator.js',
// import.meta.url), { type: 'module', name })`. Tabs that connect while the wasm
// module is still loading are buffered, so no tab is missed. In a browser without
// SharedWorker, a tab runs it as its own dedicated worker and posts it a port.
import init, { runCoordinator } from '../pkg/coordinator.js';

const early = [];
const buffer = (event) => early.push(...event.ports);
self.addEventListener('connect', buffer);
self.addEventListener('message', buffer);
await init();
self.removeEventListener('connect', buffer);
self.removeEventListener('message', buffer);

/** The running coordinator; kept alive by this module binding. */
export const coordinator = runCoordinator(early);
