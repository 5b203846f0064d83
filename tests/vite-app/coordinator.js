// The coordinator's SharedWorker entry.
import init, { runCoordinator } from 'tabworker/coordinator';

const early = [];
const buffer = (event) => early.push(...event.ports);
self.addEventListener('connect', buffer);
await init();
self.removeEventListener('connect', buffer);

export const coordinator = runCoordinator(early);
