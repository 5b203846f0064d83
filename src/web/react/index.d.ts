// tabworker/react: React bindings of a SessionBackend (React is a peer dependency).
import type { ReactNode } from 'react';
import type {
  AnySchema,
  BackendEventsOf,
  BackendState,
  Client,
  ConnectResponse,
  RequestNames,
  RequestOptions,
  RequestPayload,
  RequestResult,
  SessionBackendOf,
  TabEventsOf,
} from './tabworker.js';

/** The props of `SessionBackendProvider`: a handle the app made, or a client to make one with. */
export type SessionBackendProviderProps<S extends object = AnySchema> = { children?: ReactNode } & (
  | {
      /** A handle the app made and owns (the provider does not destroy it). */
      backend: SessionBackendOf<S>
      client?: undefined
      response?: undefined
    }
  | {
      /** The client the provider makes its handle with (and destroys it on unmount). */
      client: Client
      /** The keyed backend to follow; absent: the app's default backend. */
      response?: ConnectResponse | null
      backend?: undefined
    }
);

/**
 * Gives its children a SessionBackend: `backend`, or one it makes from `client` (the keyed backend
 * of `response`, or the app's default backend) and destroys when it unmounts or its inputs change.
 * Sends and requests made before the handle exists wait for it, in order.
 */
export function SessionBackendProvider<S extends object = AnySchema>(props: SessionBackendProviderProps<S>): ReactNode;

/** The provider's SessionBackend, or `null` before it has one. */
export function useSessionBackend<S extends object = AnySchema>(): SessionBackendOf<S> | null;

/** The backend's last state (`undefined` before the first), following every change. */
export function useStatus(): BackendState | undefined;

/** Whether the backend is ready now: `false` before, and again once it stops or ends. */
export function useReady(): boolean;

/** A stable `send(event, payload, transfer?)`; what is sent before the handle exists waits for it. */
export function useSend<S extends object = AnySchema>(): <E extends Extract<keyof TabEventsOf<S>, string>>(
  event: E,
  payload: TabEventsOf<S>[E],
  transfer?: Transferable[] | null,
) => void;

/** A stable `request(method, payload, options?)`; one made before the handle exists waits for it. */
export function useRequest<S extends object = AnySchema>(): <M extends RequestNames<S>>(
  method: M,
  payload: RequestPayload<S, M>,
  options?: RequestOptions | null,
) => Promise<RequestResult<S, M>>;

/**
 * Calls `listener(payload)` for each event `event` from the backend. The listener may change on
 * every render; the subscription is made once per handle and event, and its cleanup removes exactly
 * the listener it added.
 */
export function useEventListener(event: string, listener: (payload: unknown) => void): void;

/** The hooks typed by a backend's schema `S`: `const chat = hooksFor<Chat>()`, then `chat.useSend()`. */
export interface TypedHooks<S extends object> {
  useSessionBackend(): SessionBackendOf<S> | null;
  useStatus(): BackendState | undefined;
  useReady(): boolean;
  useSend(): <E extends Extract<keyof TabEventsOf<S>, string>>(
    event: E,
    payload: TabEventsOf<S>[E],
    transfer?: Transferable[] | null,
  ) => void;
  useRequest(): <M extends RequestNames<S>>(
    method: M,
    payload: RequestPayload<S, M>,
    options?: RequestOptions | null,
  ) => Promise<RequestResult<S, M>>;
  useEventListener<E extends Extract<keyof BackendEventsOf<S>, string>>(
    event: E,
    listener: (payload: BackendEventsOf<S>[E]) => void,
  ): void;
}

/** The hooks typed by a backend's schema `S` (the same hooks; only their types differ). */
export function hooksFor<S extends object>(): TypedHooks<S>;
