// A React page of the browser tests, built with Vite (tests/browser/react_bindings.test.mjs):
// the bindings of tabworker/react on a keyed backend (the API test backend).
//   ?app=<name>&strict=1   one tab of app <name>, rendered in StrictMode with strict=1
//   &remote=<json>         the provider follows this ConnectResponse of a Plane cluster
// The page exposes what the test looks at on `window.page`.
import { StrictMode, createElement, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import {
  SessionBackendProvider,
  useEventListener,
  useReady,
  useRequest,
  useSend,
  useStatus,
} from '../../../pkg/react.js';

const params = new URLSearchParams(location.search);
const API = '/tests/browser/fixtures/api-backend.js';
// The package is loaded as the app's workers load it, from /pkg/, not bundled.
const packageUrl = '/pkg/tabworker.js';
const { default: init, Client } = await import(/* @vite-ignore */ packageUrl);
await init();
const client = new Client({ coordinator: '/www/coordinator.js', backend: API, backends: { api: API }, name: params.get('app') });
await client.initialize();
// ?remote=<ConnectResponse JSON>: a backend in a Plane cluster instead (tests/browser/plane_backends.test.mjs).
const remote = params.get('remote');
const response = remote ? JSON.parse(remote) : await client.connect({ key: 'react-room', spawn: { tag: 'api' } });

const page = {
  client,
  response,
  readyLog: [],
  statuses: [],
  pongs: [],
  renders: 0,
  mounts: 0,
  setEvent: null,
  send: null,
  request: null,
};
window.page = page;

function Panel() {
  page.renders += 1;
  const ready = useReady();
  const status = useStatus();
  const send = useSend();
  const request = useRequest();
  const [event, setEvent] = useState('pong');
  page.setEvent = setEvent;
  page.send = send;
  page.request = request;
  useEventListener(event, (payload) => page.pongs.push({ event, payload }));
  useEffect(() => {
    page.mounts += 1;
  }, []);
  useEffect(() => {
    page.readyLog.push(ready);
  }, [ready]);
  useEffect(() => {
    if (status) page.statuses.push(status.status);
  }, [status]);
  return createElement('p', { id: 'panel' }, `ready: ${ready}; status: ${status?.status ?? 'none'}`);
}

const tree = createElement(SessionBackendProvider, { client, response }, createElement(Panel));
createRoot(document.getElementById('root')).render(params.get('strict') === '1' ? createElement(StrictMode, null, tree) : tree);
