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
   * `{ reconnect: true }`, when that backend is lost with its tab (`lost` or `key_expired`: the
   * leader closed or crashed) the handle connects the same request again, follows the new backend,
   * sends it what was queued meanwhile and calls its `onReconnect` listeners.
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
