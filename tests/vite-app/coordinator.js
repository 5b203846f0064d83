// The coordinator's SharedWorker entry (or a tab's own dedicated worker, in a
// browser without SharedWorker: that tab posts it a port).
import init, { runCoordinator } from 'tabworker/coordinator';

const early = [];
const buffer = (event) => early.push(...event.ports);
self.addEventListener('connect', buffer);
self.addEventListener('message', buffer);
await init();
self.removeEventListener('connect', buffer);
self.removeEventListener('message', buffer);

export const coordinator = runCoordinator(early);
