// The backend's dedicated worker entry: the leader tab starts it with
// `new Worker(new URL('./backend.js', import.meta.url), { type: 'module' })`
// (through `ClientOptions.backend`). The demo backend keeps one counter that
// every tab shares, and tells every session when it changes.
import init, { serveBackend } from '../pkg/tabworker.js';

await init();

let count = 0;
const sessions = new Set();
const broadcast = () => {
  for (const port of sessions) port.postMessage({ count, tabs: sessions.size });
};

/** The running backend; kept alive by this module binding. */
export const backend = serveBackend((session) => {
  sessions.add(session.port);
  session.port.onmessage = (event) => {
    if (event.data?.op === 'increment') count += 1;
    broadcast();
  };
  broadcast();
  session.closed.then(() => {
    sessions.delete(session.port);
    broadcast();
  });
});
