// tabworker/react's types: the provider's props, the plain hooks (unknown
// payloads) and the hooks typed by a schema with hooksFor<S>().
import { createElement } from 'react';
import type { Client, ConnectResponse } from '../../pkg/tabworker.js';
import {
  SessionBackendProvider,
  hooksFor,
  useEventListener,
  useReady,
  useRequest,
  useSend,
  useStatus,
} from '../../pkg/react.js';

interface Counter {
  tabEvents: { increment: { by: number } }
  backendEvents: { count: number }
  requests: { read: { payload: null; result: number } }
}

const counter = hooksFor<Counter>();

export function CounterView(): null {
  const ready: boolean = useReady();
  const status = useStatus();
  const send = counter.useSend();
  send('increment', { by: 1 });
  // @ts-expect-error `by` is a number
  send('increment', { by: 'one' });
  const request = counter.useRequest();
  const read: Promise<number> = request('read', null);
  // @ts-expect-error `write` is not a method of the schema
  void request('write', 1);
  counter.useEventListener('count', (value) => {
    const n: number = value;
    void n;
  });
  // @ts-expect-error `increment` is the tab's event, not the backend's
  counter.useEventListener('increment', () => {});
  const plainSend = useSend();
  plainSend('anything', { at: 1 });
  const plainRequest = useRequest();
  const answer: Promise<unknown> = plainRequest('anything', null);
  useEventListener('tick', (payload) => {
    // @ts-expect-error a payload is unknown without a schema
    payload.toFixed();
  });
  void [ready, status?.status, read, answer];
  return null;
}

export function App(client: Client, response: ConnectResponse) {
  const withResponse = createElement(SessionBackendProvider, { client, response }, createElement(CounterView));
  const withDefault = createElement(SessionBackendProvider, { client });
  const made = createElement(SessionBackendProvider, { backend: client.backend() });
  // @ts-expect-error a provider needs a client or a backend
  const neither = createElement(SessionBackendProvider, {});
  return [withResponse, withDefault, made, neither];
}
