//! TypeScript declarations added to the package's `.d.ts`: the seed's types,
//! word for word, and the types of this crate's JavaScript API.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const SEED_TYPES: &str = r#"
export type ConnectResponse = {
  backend_id: string
  spawned: boolean
  status: BackendStatus
  token: string
  url: string
  secret_token?: string | null
  status_url: string
  ready_url: string
}

export type ConnectRequest = {
  key?: string
  spawn?:
    | boolean
    | {
        tag?: string
        lifetime_limit_seconds?: number
        max_idle_seconds?: number
        executable?: {
          mount?: string | boolean
          env?: Record<string, string>
          resource_limits?: {
            cpu_period?: number
            // Proportion of period used by container (in microseconds)
            cpu_period_percent?: number
            // Total cpu time allocated to container (in seconds)
            cpu_time_limit?: number
            memory_limit_bytes?: number
            disk_limit_bytes?: number
          }
        }
      }
  user?: string
  auth?: Record<string, any>
}

export type BackendStatus =
  | 'scheduled'
  | 'loading'
  | 'starting'
  | 'waiting'
  | 'ready'
  | 'terminating'
  | 'hard-terminating'
  | 'terminated'

export type TerminationKind = 'soft' | 'hard'
export type TerminationReason = 'swept' | 'external' | 'key_expired' | 'lost' | 'startup_timeout' | 'internal_error'

export type BackendState =
  | { status: 'scheduled'; time: string }
  | { status: 'loading'; time: string }
  | { status: 'starting'; time: string }
  | { status: 'waiting'; time: string }
  | { status: 'ready'; time: string }
  | { status: 'terminating'; time: string; termination_reason: TerminationReason }
  | { status: 'hard-terminating'; time: string; termination_reason: TerminationReason }
  | {
      status: 'terminated'
      time: string
      termination_reason?: TerminationReason | null
      termination_kind?: TerminationKind | null
      exit_error?: boolean | null
    }
"#;

#[wasm_bindgen(typescript_custom_section)]
const API_TYPES: &str = r#"
/** The browser features tabworker depends on, as found in the calling context. */
export interface BrowserFeatures {
  /** `SharedWorker` can be constructed here (pages only). */
  sharedWorker: boolean
  /** `navigator.locks` exists (secure contexts only). */
  webLocks: boolean
  /** The origin private file system (`navigator.storage.getDirectory`). */
  opfs: boolean
  /** OPFS synchronous access handles (dedicated workers only). */
  opfsSyncAccess: boolean
  /** The context is secure (https or localhost). */
  secureContext: boolean
}

/** Every error tabworker throws or rejects with. */
export interface TabworkerError extends Error {
  name: 'TabworkerError'
  code: TabworkerErrorCode
}

/**
 * A backend's protocol, declared once as a type and shared by the tab's and the backend's code:
 * `tabEvents` (what tabs `send`, name → payload), `backendEvents` (what the backend sends) and
 * `requests` (method → `{ payload, result }`). Each part may be left out; what is left out is
 * untyped (`unknown` payloads under any name).
 */
export interface BackendSchema {
  tabEvents?: object
  backendEvents?: object
  requests?: object
}

/** The schema of a backend whose protocol is not declared: any name, `unknown` payloads. */
export type AnySchema = {}

/** Events tabs send to a backend of schema `S`, by name. */
export type TabEventsOf<S> = S extends { tabEvents: infer E extends object } ? E : Record<string, unknown>
/** Events a backend of schema `S` sends to tabs, by name. */
export type BackendEventsOf<S> = S extends { backendEvents: infer E extends object } ? E : Record<string, unknown>
/** Requests a backend of schema `S` answers, by method. */
export type RequestsOf<S> = S extends { requests: infer R extends object }
  ? R
  : Record<string, { payload: unknown; result: unknown }>
/** The methods of schema `S`. */
export type RequestNames<S> = Extract<keyof RequestsOf<S>, string>
/** The payload of request `M` of schema `S`. */
export type RequestPayload<S, M extends keyof RequestsOf<S>> = RequestsOf<S>[M] extends { payload: infer P } ? P : unknown
/** The result of request `M` of schema `S`. */
export type RequestResult<S, M extends keyof RequestsOf<S>> = RequestsOf<S>[M] extends { result: infer T } ? T : unknown
"#;

#[cfg(feature = "tab")]
#[wasm_bindgen(typescript_custom_section)]
const TAB_API_TYPES: &str = r#"
/** Options of `new Client(options)`. */
export interface ClientOptions {
  /**
   * The coordinator's SharedWorker module script (it calls `runCoordinator`): its URL, or — for a
   * bundler to follow — a factory given the worker's name:
   * `(name) => new SharedWorker(new URL('./coordinator.js', import.meta.url), { type: 'module', name })`.
   */
  coordinator: string | ((name: string) => SharedWorker)
  /**
   * The default backend's dedicated worker module script (it calls `serveBackend`): its URL, or a
   * factory, `(name) => new Worker(new URL('./backend.js', import.meta.url), { type: 'module', name })`.
   */
  backend: string | ((name: string) => Worker)
  /**
   * The app's name: clients of one name share a coordinator and a leader. Default `'default'`. It
   * names lock names and the app's OPFS directory: `new Client` refuses (`invalid-argument`) one
   * with a control character, `@`, `~`, `:`, `/` or `\`, or that is `.` or `..`; with the build,
   * `client.deployment` is at most 91 bytes.
   */
  name?: string
  /**
   * The app's own build id (e.g. its release or commit). Tabs of two builds, or of two tabworker
   * versions, run apart: each build has its own coordinator, leader and backends
   * (`client.deployment`), and only the OPFS data of a key is shared, one backend at a time. No
   * control character, `~` or `:`.
   */
  build?: string
  /** How long `initialize()`, `connect()` and `open()` wait for an answer, in ms. Default 10000. */
  connectTimeoutMs?: number
  /**
   * Scripts of keyed backends by `tag` (`connect({ spawn: { tag } })`); a connect without a tag runs
   * `backend`. The leader's options count: give every tab the same.
   */
  backends?: Record<string, string | ((name: string) => Worker)>
  /** How long a keyed backend may take from `scheduled` to `ready` before it is hard-terminated
   * with `startup_timeout`, in ms. Default 30000. */
  startupTimeoutMs?: number
  /** How long a soft termination waits for the backend to stop before `worker.terminate()`, in ms.
   * Default 5000. */
  terminationGraceMs?: number
}

/** Options of `client.terminate(backendId, options)`. */
export interface TerminateOptions {
  /** `true`: `worker.terminate()` at once. Default `false`: the backend's `stop` runs first,
   * within the grace period (`terminationGraceMs`), then `worker.terminate()`. */
  hard?: boolean
}

/** A tab's part in the election. */
export type Role = 'leader' | 'follower'

/** `'shared'`: the tabs share a coordinator, a leader and its backends; `'isolated'`: no
 * SharedWorker, so each tab runs the app alone, while each key keeps one live backend across tabs. */
export type ClientMode = 'shared' | 'isolated'

/** A tab's open session with the leader's backend. */
export interface Session {
  /** The connect attempt; every reconnect is a new one. */
  id: string
  /** The epoch of the leader whose backend serves it. */
  epoch: number
  /** The backend id of that leader's default backend, which serves it (`null` only if the leader
   * did not name it). */
  backendId: string | null
  /** This tab's own port to the backend; post to it and listen on it. */
  port: MessagePort
}

/** Why a session ended. */
export type SessionEndReason = 'backend-lost' | 'new-leader' | 'destroyed'

/** The events of a `Client`, by type, with their `detail`. */
export interface ClientEventMap {
  /** This tab's role changed. */
  rolechange: { role: Role }
  /** A leader announced itself. */
  leader: { leaderId: string; epoch: number; backendId: string | null }
  /** A session opened (after `initialize()`, and again after each failover). */
  session: Session
  /** The session ended; a new one is on its way unless the client was destroyed. */
  sessionend: { id: string; reason: SessionEndReason }
  /** This tab's backend worker failed to load or threw. */
  backenderror: { detail: string }
}

/** A `SessionBackend` typed by its backend's schema: `send`, `on` and `request` are checked against it. */
export type SessionBackendOf<S extends object = AnySchema> = Omit<SessionBackend, 'send' | 'on' | 'request'> & {
  /** Sends event `event` to the backend (queued in order while no session is open). */
  send<E extends Extract<keyof TabEventsOf<S>, string>>(
    event: E,
    payload: TabEventsOf<S>[E],
    transfer?: Transferable[] | null,
  ): void
  /** Calls `callback(payload)` for each event `event` from the backend; returns the function that removes it. */
  on<E extends Extract<keyof BackendEventsOf<S>, string>>(
    event: E,
    callback: (payload: BackendEventsOf<S>[E]) => void,
  ): () => void
  /** Asks the backend's handler of `method`; resolves with its result. */
  request<M extends RequestNames<S>>(
    method: M,
    payload: RequestPayload<S, M>,
    options?: RequestOptions | null,
  ): Promise<RequestResult<S, M>>
}

export interface Client {
  /**
   * A handle on a backend: the keyed backend of `response` (a `ConnectResponse` of any tab), or
   * without it the app's default backend. It opens its session at once and keeps it. `S`, the
   * backend's schema, types its events and requests.
   */
  backend<S extends object = AnySchema>(response?: ConnectResponse | null): SessionBackendOf<S>
  /**
   * Connects (`connect(request)`) and resolves with a handle on the backend that answered. With
   * `{ reconnect: true }`, when that backend is lost with its tab (the leader closed or crashed) the
   * handle connects the same request again, sends the new backend what was queued meanwhile and
   * calls its `onReconnect` listeners.
   */
  connectBackend<S extends object = AnySchema>(
    request: ConnectRequest,
    options?: ConnectBackendOptions | null,
  ): Promise<SessionBackendOf<S>>
}

/** Options of `Client.connectBackend`. */
export interface ConnectBackendOptions {
  /** Connect the same request again when the backend is lost with its tab (the leader closed or
   * crashed); what was queued meanwhile goes to the new backend. */
  reconnect?: boolean
}

/** Options of `SessionBackend.request`. */
export interface RequestOptions {
  /** How long to wait for the answer before failing with `timeout`; default 30 000. */
  timeoutMs?: number
  /** Aborts the request: it fails with `aborted` (and is not sent if it was still queued). */
  signal?: AbortSignal
}

/** A listener of any `Client` event. */
export type ClientEventListener = (
  event: { [K in keyof ClientEventMap]: CustomEvent<ClientEventMap[K]> & { type: K } }[keyof ClientEventMap],
) => void
"#;

#[cfg(feature = "backend")]
#[wasm_bindgen(typescript_custom_section)]
const BACKEND_API_TYPES: &str = r#"
/** A backend's handler of request `M` of schema `S`. */
export type RequestHandlerOf<S extends object, M extends RequestNames<S>> = (
  payload: RequestPayload<S, M>,
  session: BackendSessionOf<S>,
) => RequestResult<S, M> | Promise<RequestResult<S, M>>

/** A `BackendSession` typed by its backend's schema. */
export type BackendSessionOf<S extends object = AnySchema> = Omit<BackendSession, 'send' | 'on'> & {
  /** Sends event `event` to this session's tab, transferring `transfer`. */
  send<E extends Extract<keyof BackendEventsOf<S>, string>>(
    event: E,
    payload: BackendEventsOf<S>[E],
    transfer?: Transferable[] | null,
  ): void
  /** Calls `listener(payload, session)` for each event `event` from this session's tab. */
  on<E extends Extract<keyof TabEventsOf<S>, string>>(
    event: E,
    listener: (payload: TabEventsOf<S>[E], session: BackendSessionOf<S>) => void,
  ): () => void
}

/** A `BackendHandle` typed by its backend's schema. */
export type BackendHandleOf<S extends object = AnySchema> = Omit<BackendHandle, 'handle' | 'broadcast'> & {
  /** Answers requests for `method` with `handler(payload, session)`. */
  handle<M extends RequestNames<S>>(method: M, handler: RequestHandlerOf<S, M>): void
  /** Sends event `event` to every open session. */
  broadcast<E extends Extract<keyof BackendEventsOf<S>, string>>(event: E, payload: BackendEventsOf<S>[E]): void
}

/**
 * Serves sessions in the calling dedicated worker (started by a leader tab): `serveBackend(handler)`
 * or `serveBackend({ start, session, handlers, stop, declaresReady })`. `S`, the backend's schema,
 * types its handlers and events.
 */
export function serveBackend<S extends object = AnySchema>(
  handler: BackendHandler<S> | BackendConfig<S>,
): BackendHandleOf<S>

/** The app's code in the backend worker, called once per session. */
export type BackendHandler<S extends object = AnySchema> = (session: BackendSessionOf<S>) => void | Promise<void>

/** What a backend's `start` is given. */
export interface BackendContext {
  /** The backend's id. */
  backendId: string
  /** The key it holds; `'tabworker:default'` for the default backend of `initialize()`. */
  key: string
  /** `executable.env` of the connect that started it. */
  env: Record<string, string>
  /** `executable.mount`: the OPFS directory of its key, kept across restarts; `null` without a mount. */
  mount: FileSystemDirectoryHandle | null
  /** Declares the backend ready (with `declaresReady: true`). */
  ready(): void
  /** Whether `secret` is the `secret_token` of a connect that reached this backend, made by a tab still open (one of its latest 64 connects here). */
  isSecretToken(secret: string): boolean
  /**
   * Opens the file `name` of the mount for synchronous access (`createSyncAccessHandle`). A file
   * still locked by another handle (a predecessor of this key that just died) is tried again for up
   * to 5 s, then refused with a `TabworkerError` of code `mount-busy`; without a mount, or with a
   * `name` that is not a string, `invalid-argument`; any other failure is the browser's own error.
   */
  openSync(name: string, options?: { create?: boolean }): Promise<SyncAccessHandle>
}

/** A `FileSystemSyncAccessHandle` (declared here: the DOM library lacks it). */
export interface SyncAccessHandle {
  read(buffer: ArrayBufferView | ArrayBuffer, options?: { at?: number }): number
  write(buffer: ArrayBufferView | ArrayBuffer, options?: { at?: number }): number
  truncate(size: number): void
  getSize(): number
  flush(): void
  close(): void
}

/** A backend's code: `serveBackend(handler)` or `serveBackend({ start, session, stop })`. */
export interface BackendConfig<S extends object = AnySchema> {
  /** Runs once, before any session: open databases here. A throw (or rejection) ends the backend
   * with `exit_error: true`. */
  start?: (ctx: BackendContext) => void | Promise<void>
  /** Called once per session (optional: `handlers` and events may serve every session). */
  session?: BackendHandler<S>
  /** Request handlers by method: `request(method, payload)` in a tab gets what the handler returns
   * (or its promise resolves to); what it throws reaches the tab as a `handler-error`. */
  handlers?: { [M in RequestNames<S>]?: RequestHandlerOf<S, M> }
  /** Runs on a soft termination; the worker is terminated when it returns (or the grace period ends). */
  stop?: () => void | Promise<void>
  /** `true`: the backend is ready only once it calls `ctx.ready()`; default: when `start` returns. */
  declaresReady?: boolean
}
"#;

#[wasm_bindgen(typescript_custom_section)]
const ERROR_CODES: &str = crate::model::code::ErrorCode::TYPESCRIPT;
