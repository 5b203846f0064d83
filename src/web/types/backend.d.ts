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
 * or `serveBackend({ start, session, handlers, stop, declaresReady })`. `handler`/`session` is called
 * with each session: the client it is for, its own `MessagePort`, a promise that resolves when the
 * session ends, and for keyed backends the connect's `token`, `user` and `auth`. `start(ctx)` runs
 * once before any session; the backend is ready when it returns, or with `declaresReady: true` when
 * it calls `ctx.ready()`. `stop()` runs on a soft termination. `S`, the backend's schema, types its
 * handlers and events.
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
