//! The browser layer (`wasm32` only): carries browser events into the pure
//! core and the core's commands out, and exports the JavaScript API.
//!
//! Everything here is thin on purpose; the logic lives in the core, which is
//! tested natively.

mod backend;
mod backend_session;
mod client;
mod coordinator;
mod error;
mod features;
mod keyed;
mod options;
mod runtime;
mod rust_backend;
mod session_backend;
mod tables;
mod typescript;
mod workers;

pub use backend::{BackendHandle, serve_backend};
pub use backend_session::BackendSession;
pub use client::Client;
pub use coordinator::{CoordinatorHandle, run_coordinator};
pub use error::{ErrorCode, TabworkerError};
pub use features::{Features, features};
pub use keyed::{KeyedSession, StatusSubscription};
pub use runtime::codec::{from_js, to_js};
pub use runtime::locks;
pub use rust_backend::{Context, RustBackend, Served, Session, served};
pub use session_backend::SessionBackend;
