// The developer API's types: SessionBackend in a tab, BackendSession and the
// handlers in a backend. Payloads are `unknown`, never `any`: each
// `@ts-expect-error` line must fail to type-check.
import type { BackendConfig, BackendSession, BackendState, ConnectResponse, SessionBackend } from '../../pkg/tabworker.js';
import { Client, serveBackend } from '../../pkg/tabworker.js';

export async function tab(client: Client, response: ConnectResponse): Promise<void> {
  const keyed: SessionBackend = client.backend(response);
  const fallback: SessionBackend = client.backend();
  const ready: BackendState = await keyed.ready();
  const ended: boolean = keyed.isTerminated() || !keyed.isReady();
  const state: BackendState | undefined = keyed.status();
  const stop: () => void = keyed.onStatus((s: BackendState) => void s.status);
  keyed.onReady((s) => void s.time);
  keyed.onTerminated((s) => void s.status);
  const off = fallback.on('tick', (payload) => {
    // @ts-expect-error a payload is unknown: it must be narrowed before use
    payload.toFixed();
  });
  fallback.send('ping', { n: 1 });
  fallback.send('bytes', new ArrayBuffer(8), [new ArrayBuffer(8)]);
  const controller = new AbortController();
  const result: unknown = await keyed.request('add', { a: 1, b: 2 }, { timeoutMs: 500, signal: controller.signal });
  // @ts-expect-error timeoutMs is a number
  void keyed.request('add', 1, { timeoutMs: 'soon' });
  // @ts-expect-error a request's result is unknown, not a number
  const sum: number = await keyed.request('add', 1);
  // @ts-expect-error the payload of a send is required
  fallback.send('ping');
  void [ready, ended, state, stop, off, result, sum];
  keyed.destroy();
}

export const config: BackendConfig = {
  handlers: {
    add: (payload: unknown, session: BackendSession) => {
      const from: string = session.clientId;
      return [payload, from];
    },
  },
  session(session) {
    session.send('hello', { at: Date.now() });
    const off: () => void = session.on('ping', (payload, from: BackendSession) => from.send('pong', payload));
    void off;
    // @ts-expect-error an event name is a string
    session.send(1, {});
  },
};

export function backend(): void {
  const handle = serveBackend(config);
  handle.handle('sum', async (payload) => payload);
  handle.broadcast('tick', 1);
  const handled: number = handle.handled;
  void handled;
}
