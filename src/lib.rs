//! # tabworker
//!
//! Session backends shared by every tab of a web app. A tab asks for a backend
//! by key; the tab holding the app's leader [Web Lock] runs it in a dedicated
//! worker; a SharedWorker coordinator hands each tab its own `MessagePort` to
//! it; when the leader tab goes away, the next tab takes over.
//!
//! This crate is two layers:
//!
//! * a **pure core**, compiled and tested natively: the session-backend types
//!   of the public API ([`ConnectRequest`], [`ConnectResponse`],
//!   [`BackendStatus`], [`BackendState`], …), the backend [`Lifecycle`] state
//!   machine, the wire [`protocol`] between tabs, coordinator and backend
//!   workers, and the [`Coordinator`] state machine. Nothing in it touches a
//!   browser API or a clock: time is passed in.
//! * a thin **browser layer** (`wasm32` only) that carries browser events into
//!   the core and the core's commands out, and exports the JavaScript API.
//!
//! ```
//! use tabworker::{BackendState, BackendStatus, Lifecycle, TerminationReason, Timestamp};
//!
//! let t0: Timestamp = "2026-11-22T10:00:00.000Z".parse().unwrap();
//! let mut backend = Lifecycle::new(t0);
//! backend.apply(BackendState::Loading { time: t0.plus_millis(5) }).unwrap();
//! backend.apply(BackendState::Ready { time: t0.plus_millis(40) }).unwrap();
//!
//! // Going back is refused with a typed error, never a panic.
//! assert!(backend.apply(BackendState::Starting { time: t0.plus_millis(41) }).is_err());
//!
//! backend.terminate(t0.plus_millis(50), tabworker::TerminationKind::Soft, TerminationReason::External).unwrap();
//! let end = backend.finish(t0.plus_millis(60), false, None).unwrap();
//! assert_eq!(end.status(), BackendStatus::Terminated);
//! assert_eq!(
//!     tabworker::to_json(end).to_string(),
//!     r#"{"exit_error":false,"status":"terminated","termination_kind":"soft","termination_reason":"external","time":"2026-11-22T10:00:00.060Z"}"#,
//! );
//! ```
//!
//! ## Panic policy
//!
//! An error means bad input; a panic means a broken invariant of this crate.
//!
//! * Nothing that arrives from another browser context — another tab, the
//!   coordinator, a backend worker, or the app through the JavaScript API —
//!   may cause a panic. Such input is decoded into typed values, and anything
//!   malformed becomes a typed error ([`protocol::DecodeError`],
//!   [`TransitionError`], …) that the caller can branch on.
//! * Every `unwrap`/`expect` outside tests carries a comment saying why it
//!   cannot fail.
//! * At the JavaScript boundary errors are thrown as `Error` objects with a
//!   stable `name` and `code`, so that callers can branch on them rather than
//!   on message text.
//!
//! [Web Lock]: https://developer.mozilla.org/en-US/docs/Web/API/Web_Locks_API
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod backend;
pub mod channel;
mod coordinator;
mod fleet;
mod model;
pub mod plane;
pub mod protocol;
mod tab;

#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
pub mod native;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use backend::rust::{
    Context, ContextLink, Running, Runs, RustBackend, Serve, Served, ServedLink, Session, SessionLink, Unstarted,
    plain_frame,
};
pub use backend::{BackendHost, BackendOutput, MOUNT_RETRY_BUDGET_MS, MOUNT_RETRY_FIRST_MS, MOUNT_RETRY_MAX_MS, mount};
pub use coordinator::{
    Coordinator, CoordinatorOutput, HELLO_TIMEOUT_MS, MAX_EPOCH_LEAP, MAX_PENDING_PER_TAB, MAX_TAKEOVERS, PROBE_MS,
    SILENT_LEADER_MS, TAKEOVER_TIMEOUT_MS, TAKEOVER_WINDOW_MS,
};
pub use fleet::{
    Backend, ConnectError, DEFAULT_GRACE_MS, DEFAULT_KEY, DEFAULT_MOUNT, DEFAULT_STARTUP_TIMEOUT_MS, Decision, Fleet,
    FleetLimits, FleetOutput, MAX_ENDED, MAX_KEY_LEN, Registry,
};
pub use model::code::{ErrorCode, UnknownCode};
pub use model::connect::{
    BackendUrl, BackendUrlError, ConnectRequest, ConnectResponse, Executable, Mount, ResourceLimits, Spawn,
    SpawnConfig, UrlFault,
};
pub use model::ids::{
    AppName, BackendId, ClientId, ConnId, CoordinatorId, Epoch, IdError, MAX_CLIENT_ID_LEN, MAX_DEPLOYMENT_LEN,
    MAX_ID_LEN, MAX_SAFE_INTEGER, RESERVED_IN_BUILD, RESERVED_IN_NAME, SessionId,
};
pub use model::lifecycle::{Lifecycle, TransitionError};
pub use model::locks::{LockCommand, LockId, LockMode, LockNames};
pub use model::map::{Map, Set};
pub use model::status::{BackendState, BackendStatus, TerminationKind, TerminationReason};
pub use model::time::{Timestamp, TimestampError};
pub use model::timers::{MAX_TIMER_DELAY_MS, TimerWake, timer_delay, timer_wake};
pub use model::value::{
    FromValue, MAX_DEPTH, MAX_FRAME_FIELDS, MAX_OBJECT_KEYS, Number, Object, ToValue, Value, ValueError,
};
#[cfg(any(test, not(target_arch = "wasm32")))]
pub use model::value::{from_json, from_json_text, to_json};
pub use tab::{
    CLIENT_OPTIONS, CallError, CallId, CallValue, ClientSettings, DEFAULT_CALL_TIMEOUT_MS, DisconnectReason,
    FIRST_RETRY_MS, MAX_RETRY_MS, Mode, Role, SubscriptionId, Tab, TabEvent, TabOutput, WELCOME_TIMEOUT_MS,
    WORKER_START_TIMEOUT_MS,
};
