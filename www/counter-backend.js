// The JavaScript example backend: a counter every tab of the app shares,
// with the same protocol as the Rust example (www/rust-backend):
// - start: the count starts at `env.START` (default 0); ready at the end of `start`;
// - each session is greeted with event `welcome` `{ count, sessions }`;
// - event `increment` `{ by }` adds `by` and broadcasts event `count`;
// - request `read` answers the count; `info` answers `{ key, mounted, client,
//   language, runs_on }`; `whoami` answers the session's `{ user, auth }`;
//   `fail` fails with `handler-error`;
// - on a soft stop it broadcasts event `stopping` with the final count.
import init, { serveBackend } from '../pkg/backend.js';

await init();

let count = 0;
let key = '';
let mounted = false;

export const backend = serveBackend({
  declaresReady: true,
  start(ctx) {
    const start = ctx.env.START;
    count = start === undefined ? 0 : Number(start);
    if (Number.isNaN(count)) throw new Error(`START is not a number: ${JSON.stringify(start)}`);
    key = ctx.key;
    mounted = ctx.mount !== null;
    ctx.ready();
  },
  session(session) {
    session.send('welcome', { count, sessions: backend.sessions });
    session.on('increment', ({ by = 1 } = {}) => {
      count += by;
      backend.broadcast('count', count);
    });
  },
  handlers: {
    read: () => count,
    info: (_, session) => ({ key, mounted, client: session.clientId, language: 'javascript', runs_on: 'browser' }),
    whoami: (_, session) => ({ user: session.user ?? null, auth: session.auth ?? {} }),
    fail: () => {
      throw new Error('asked to fail');
    },
  },
  stop() {
    backend.broadcast('stopping', count);
  },
});
