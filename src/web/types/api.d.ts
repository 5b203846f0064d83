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
