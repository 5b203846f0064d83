// tabworker/server: calls a Plane 0.5.5 cluster's controller from the app's
// Node server with the seed's ConnectRequest and ConnectResponse. Never in a
// browser: Plane's /ctrl routes have no authentication.
import type { ConnectRequest, ConnectResponse } from './tabworker.js';

export type { ConnectRequest, ConnectResponse };

/** The stable codes of a `PlaneError`. */
export type PlaneErrorCode =
  /** A value given to this module was refused before any request (the message names it). */
  | 'invalid-argument'
  /** A live backend holds the key under another tag (`spawn.tag`; absent: `''`). Plane: KeyHeld, 409. */
  | 'key-held'
  /** The key has no live backend and the request did not ask to spawn one. Plane: KeyUnheldNoSpawnConfig, 409. */
  | 'key-unheld-no-spawn'
  /** The key is held but its backend is unhealthy. Plane: KeyHeldUnhealthy, 500. */
  | 'key-held-unhealthy'
  /** Another connect took the key meanwhile (Plane retried 3 times); trying again may succeed. Plane: FailedToAcquireKey, 500. */
  | 'failed-to-acquire-key'
  /** The key's expired backend could not be removed (it was renewed meanwhile); trying again may succeed. Plane: FailedToRemoveKey, 409. */
  | 'failed-to-remove-key'
  /** No drone of the cluster and pool can take the backend. Plane: NoDroneAvailable, 500. */
  | 'no-drone-available'
  /** Neither the `cluster` option nor the controller's default names a cluster. Plane: NoClusterProvided, 400. */
  | 'no-cluster-provided'
  /** Plane refused a cluster name. Plane: InvalidClusterName, 400. */
  | 'invalid-cluster-name'
  /** Plane does not know the backend (`terminate`). Plane: NotFound, 404. */
  | 'not-found'
  /** Any other refusal: Plane's DatabaseError or Other, a kind this module does not know (kept in `kind`), or a non-2xx answer that is not an ApiError. */
  | 'failed'
  /** Plane's whole answer did not come within `timeoutMs`. */
  | 'timeout'
  /** The request could not be made or its answer not read (fetch failed: refused, reset, DNS…). */
  | 'unreachable'
  /** Plane answered 2xx with something its types do not allow (not JSON, a field missing or of the wrong type). */
  | 'malformed'

/** Plane 0.5.5's `ApiErrorKind`, as `PlaneError.kind` carries it (a newer Plane may send others). */
export type PlaneApiErrorKind =
  | 'FailedToAcquireKey'
  | 'KeyUnheldNoSpawnConfig'
  | 'KeyHeldUnhealthy'
  | 'KeyHeld'
  | 'NoDroneAvailable'
  | 'FailedToRemoveKey'
  | 'DatabaseError'
  | 'NoClusterProvided'
  | 'NotFound'
  | 'InvalidClusterName'
  | 'Other'

/**
 * What every function of this module throws or rejects with. Its `message` names the route
 * (`POST /ctrl/connect`), never the controller's address, so that an app may pass it on to a
 * browser; the address is in `url`, for the server's logs.
 */
export declare class PlaneError extends Error {
  constructor(code: PlaneErrorCode, message: string, details?: { status?: number; kind?: string; url?: string; cause?: unknown })
  readonly name: 'PlaneError'
  readonly code: PlaneErrorCode
  /** The HTTP status of Plane's answer, if one came. */
  readonly status: number | undefined
  /** Plane's `ApiErrorKind`, if Plane answered with an ApiError. */
  readonly kind: PlaneApiErrorKind | (string & {}) | undefined
  /** The controller's URL that was called (never in `message`); undefined for `invalid-argument`, refused before any request. */
  readonly url: string | undefined
}

export interface PlaneOptions {
  /** The controller's http(s) base URL; its `/ctrl` routes are under it. */
  controller: string
  /** What every backend spawned through this object runs: Plane's `executable.image` (a Docker image, or with the process executor of scripts/plane/ a program's file name). */
  image: string
  /** The fetch to use; default: the global one (Node >= 20). */
  fetch?: typeof fetch
  /** How long a call waits for Plane's whole answer, in milliseconds; default 10,000. */
  timeoutMs?: number
  /** The cluster to spawn to (`host[:port]`); default: the controller's default cluster. */
  cluster?: string
  /** The drone pool to spawn to; default: the default pool. */
  pool?: string
}

export interface PlaneTerminateOptions {
  /** A hard termination (SIGKILL) instead of a soft one. Default false. */
  hard?: boolean
}

/** A Plane cluster's controller, called from the app's server. */
export declare class Plane {
  /** @throws PlaneError `invalid-argument` for bad options. */
  constructor(options: PlaneOptions)
  /**
   * Plane's POST /ctrl/connect with the seed's request: `key` → Plane's key (tag `spawn.tag`,
   * default `''`); `spawn` (true or an object) → a spawn config of the constructor's image; absent
   * or false → only a live backend of the key. Resolves with exactly the seed's fields; `ready_url`
   * is the `status_url` (Plane has no ready URL; a GET there answers the current status).
   *
   * Refused with `invalid-argument` before any request: a `key` over 256 UTF-8 bytes or with a
   * control character (the in-browser registry's rule); with `executable.mount: true` (which
   * mounts the drone's `<mount base>/<key>`), a key that is not one path segment (`.`, `..`, a
   * `/`, `\` or `:`, over 255 bytes); a `mount` path that is absolute, has `.` or `..` parts, a
   * `:` or a control character; an `env` name other than `[A-Za-z_][A-Za-z0-9_]*`, one that
   * changes which code the process loads (`LD_*`, `DYLD_*`, `PATH`, `NODE_OPTIONS`,
   * `PYTHONPATH`… in any case) or a value with NUL, and more than 64 KiB of names and values; a
   * `spawn.tag` or a `user` over 256 bytes or with a control character; text with a lone surrogate.
   */
  connect(request: ConnectRequest): Promise<ConnectResponse>
  /** Plane's soft-terminate (default) or hard-terminate of `backendId`; resolves once Plane queued it. */
  terminate(backendId: string, options?: PlaneTerminateOptions): Promise<void>
}
