// tabworker/react: React bindings of a SessionBackend. React is a peer
// dependency; this module imports nothing else. Every rule (queueing until a
// session opens, what a failover does to a request) is the SessionBackend's:
// these hooks only subscribe and unsubscribe.
import { createContext, createElement, useCallback, useContext, useEffect, useMemo, useRef, useState } from 'react';

const BackendContext = createContext(null);

/**
 * Gives its children a SessionBackend: `backend` (made by the app), or one it
 * makes from `client` — the keyed backend of `response`, or the app's default
 * backend — and destroys when it unmounts or its inputs change. Sends and
 * requests made before the handle exists wait for it, in order.
 */
export function SessionBackendProvider({ client, response, backend, children }) {
  const [made, setMade] = useState(null);
  const pending = useRef([]);
  useEffect(() => {
    if (backend || !client) return undefined;
    const handle = response ? client.backend(response) : client.backend();
    setMade(handle);
    return () => {
      handle.destroy();
      setMade((current) => (current === handle ? null : current));
    };
  }, [client, response, backend]);
  const handle = backend ?? made;
  useEffect(() => {
    if (!handle) return;
    for (const use of pending.current.splice(0)) use(handle);
  }, [handle]);
  const value = useMemo(() => ({ handle, pending }), [handle]);
  return createElement(BackendContext.Provider, { value }, children);
}

function useContextValue(hook) {
  const value = useContext(BackendContext);
  if (value === null) throw new Error(`${hook}() must be used inside a <SessionBackendProvider>`);
  return value;
}

/** The provider's SessionBackend, or `null` before it has one. */
export function useSessionBackend() {
  return useContextValue('useSessionBackend').handle;
}

/** The backend's last state (`undefined` before the first), following every change. */
export function useStatus() {
  const handle = useSessionBackend();
  const [state, setState] = useState(() => handle?.status());
  useEffect(() => {
    if (!handle) return setState(undefined);
    setState(handle.status());
    return handle.onStatus(setState);
  }, [handle]);
  return state;
}

/** Whether the backend is ready now: `false` before, and again once it stops or ends. */
export function useReady() {
  return useStatus()?.status === 'ready';
}

/** A stable `send(event, payload, transfer?)`; what is sent before the handle exists waits for it. */
export function useSend() {
  const { handle, pending } = useContextValue('useSend');
  const current = useRef(handle);
  current.current = handle;
  return useCallback(
    (event, payload, transfer) => {
      if (current.current) current.current.send(event, payload, transfer);
      else pending.current.push((handle) => handle.send(event, payload, transfer));
    },
    [pending],
  );
}

/** A stable `request(method, payload, options?)`; one made before the handle exists waits for it. */
export function useRequest() {
  const { handle, pending } = useContextValue('useRequest');
  const current = useRef(handle);
  current.current = handle;
  return useCallback(
    (method, payload, options) => {
      if (current.current) return current.current.request(method, payload, options);
      return new Promise((resolve) => pending.current.push((handle) => resolve(handle.request(method, payload, options))));
    },
    [pending],
  );
}

/**
 * Calls `listener(payload)` for each event `event` from the backend. The
 * listener may change on every render; the subscription is made once per
 * handle and event, and its cleanup removes exactly the listener it added.
 */
export function useEventListener(event, listener) {
  const handle = useSessionBackend();
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => {
    if (!handle) return undefined;
    const off = handle.on(event, (payload) => latest.current(payload));
    return off;
  }, [handle, event]);
}

/** The hooks typed by a backend's schema (in TypeScript); at run time, the same hooks. */
export function hooksFor() {
  return { useSessionBackend, useStatus, useReady, useSend, useRequest, useEventListener };
}
