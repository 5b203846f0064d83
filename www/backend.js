// The demo's default backend (the leader's own worker, key `tabworker:default`):
// the documents live in `notes` backends; this one only answers how many tabs
// have a session with it (request `tabs`).
import init, { serveBackend } from '../pkg/backend.js';

await init();

/** The running backend; kept alive by this module binding. */
export const backend = serveBackend({
  handlers: { tabs: () => backend.sessions },
});
