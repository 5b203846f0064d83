// The developer API's types: a backend's schema declared once types the
// tab's `send`, `on` and `request` and the backend's `handlers`, `handle`,
// `broadcast`, `session.send` and `session.on`. Without a schema payloads are
// `unknown`, never `any`. Each `@ts-expect-error` line must fail to
// type-check; if a type were loosened, tsc would report the directive unused.
import type { BackendConfig, BackendSessionOf } from '../../pkg/backend.js';
import { serveBackend } from '../../pkg/backend.js';
import type { BackendState, ConnectResponse, SessionBackendOf } from '../../pkg/tabworker.js';
import { Client } from '../../pkg/tabworker.js';

/** The chat backend's protocol, as an app would declare it. */
interface Chat {
  tabEvents: { post: { text: string }; typing: boolean }
  backendEvents: { posted: { id: number; text: string } }
  requests: {
    history: { payload: { since: number }; result: string[] }
    clear: { payload: null; result: number }
  }
}

export async function typedTab(client: Client, response: ConnectResponse): Promise<void> {
  const chat: SessionBackendOf<Chat> = client.backend<Chat>(response);
  chat.send('post', { text: 'hi' });
  chat.send('typing', true);
  // @ts-expect-error the payload of `post` is { text: string }
  chat.send('post', { body: 'hi' });
  // @ts-expect-error `shout` is not an event tabs send
  chat.send('shout', 1);
  chat.on('posted', (message) => {
    const id: number = message.id;
    void id;
  });
  // @ts-expect-error `post` is sent by tabs, not by the backend
  chat.on('post', () => {});
  const lines: string[] = await chat.request('history', { since: 0 });
  const cleared: number = await chat.request('clear', null);
  // @ts-expect-error the result of `history` is string[]
  const wrong: number = await chat.request('history', { since: 0 });
  // @ts-expect-error `since` is a number
  void chat.request('history', { since: 'yesterday' });
  // @ts-expect-error `delete` is not a method of the schema
  void chat.request('delete', null);
  void [lines, cleared, wrong];
  const reconnecting = await client.connectBackend<Chat>({ key: 'room', spawn: true }, { reconnect: true });
  reconnecting.onReconnect((next: ConnectResponse) => void next.backend_id);
  reconnecting.send('post', { text: 'again' });
}

export async function untypedTab(client: Client, response: ConnectResponse): Promise<void> {
  const keyed = client.backend(response);
  const fallback = client.backend();
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
  // Where the backend runs is the one thing that tells a Plane backend apart.
  const where: 'browser' | 'remote' = keyed.location;
  // @ts-expect-error a backend runs in the browser or remote, nowhere else
  const elsewhere: 'tab' = keyed.location;
  void [ready, ended, state, stop, off, result, sum, where, elsewhere];
  keyed.destroy();
}

export const chatBackend: BackendConfig<Chat> = {
  handlers: {
    history: ({ since }) => [`since ${since}`],
    // @ts-expect-error `clear` answers a number
    clear: () => 'cleared',
  },
  session(session: BackendSessionOf<Chat>) {
    session.on('post', ({ text }, from) => from.send('posted', { id: 1, text }));
    // @ts-expect-error `posted` is the backend's event, not the tab's
    session.on('posted', () => {});
    // @ts-expect-error `posted` carries { id, text }
    session.send('posted', { text: 'no id' });
  },
};

export function backends(): void {
  const chat = serveBackend<Chat>(chatBackend);
  chat.handle('clear', () => 0);
  // @ts-expect-error a handler of `history` gets { since: number } and answers string[]
  chat.handle('history', (payload: { until: number }) => [payload.until]);
  chat.broadcast('posted', { id: 2, text: 'to all' });
  const handled: number = chat.handled;
  const plain = serveBackend({
    handlers: { echo: (payload) => payload },
    session(session) {
      session.send('hello', { at: Date.now() });
      const off: () => void = session.on('ping', (payload, from) => from.send('pong', payload));
      void off;
      // @ts-expect-error an event name is a string
      session.send(1, {});
    },
  });
  plain.handle('sum', async (payload) => payload);
  plain.broadcast('tick', 1);
  void handled;
}
