// The backend's worker entry: answers `add` and `worker`, echoes `ping` as `pong`.
import init, { serveBackend } from 'tabworker/backend';

await init();

export const backend = serveBackend({
  handlers: {
    add: ({ a, b }) => a + b,
    worker: () => backend.workerId,
  },
  session(session) {
    session.on('ping', (payload) => session.send('pong', payload));
  },
});
