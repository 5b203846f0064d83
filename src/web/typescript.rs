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
export type TerminationReason = 'swept' | 'external' | 'key_expired' | 'lost' | 'startup_timeout'

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

/** The stable codes of the errors tabworker throws. */
export type TabworkerErrorCode =
  | 'invalid-argument'
  | 'web-locks-unavailable'
  | 'shared-worker-unavailable'
  | 'lock-refused'
  | 'coordinator-unavailable'
  | 'not-initialized'

/** Every error tabworker throws or rejects with. */
export interface TabworkerError extends Error {
  name: 'TabworkerError'
  code: TabworkerErrorCode
}

/** Options of `new Client(options)`. */
export interface ClientOptions {
  /** URL of the coordinator's SharedWorker module script. */
  coordinator: string
  /** The app's name: clients of one name share a coordinator and a leader. Default `'default'`. */
  name?: string
  /** How long `initialize()` waits for the coordinator, in ms. Default 10000. */
  connectTimeoutMs?: number
}

/** A tab's part in the election. */
export type Role = 'leader' | 'follower'
"#;
