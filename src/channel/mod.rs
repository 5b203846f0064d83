//! What travels over a session once it is open: the app's events, both
//! ways, and its requests, each answered once.
//!
//! A tab's handle on a backend keeps a [`Caller`]: it queues what is made
//! while no session is open, matches answers to requests, and decides what
//! fails when a session is lost (a request that may have been handled is
//! never sent again). Each session in the backend keeps a [`Responder`]: it
//! refuses a request seen before and one with no handler, and lets each
//! handled request be answered once. Payloads are carried untouched; the
//! frames are read from a message's fields by [`Fields::decode`]. The
//! handle's view of the backend's lifecycle (ready, ended) is a [`Tracker`].

mod caller;
mod frame;
mod handle;
mod responder;
#[cfg(not(target_arch = "wasm32"))]
pub mod text;
mod tracker;

pub use caller::{Caller, CallerOutput, RequestError, RequestNumbers};
pub use frame::{ChannelError, ChannelFrame, Fields, KINDS, MAX_NAME_BYTES, MAX_REQUEST_ID, RequestId, check_name};
pub use handle::{
    BackendSettings, DEFAULT_REQUEST_TIMEOUT_MS, Handle, HandleOutput, Link, REQUEST_OPTIONS, RequestSettings,
};
pub use responder::{MAX_CALLERS, MAX_RUNNING, Responder, Verdict};
pub use tracker::{
    Change, Closing, Ending, MAX_RECONNECTS, RECONNECT_RETRY_MS, Reconnected, Tracker, lost_with_its_tab,
};
