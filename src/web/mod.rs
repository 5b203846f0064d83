//! The browser layer (`wasm32` only): carries browser events into the pure
//! core and the core's commands out, and exports the JavaScript API.
//!
//! Everything here is thin on purpose; the logic lives in the core, which is
//! tested natively.
//!
//! Each role is a Cargo feature, all three on by default: `tab` (the page's
//! `Client` and its handles), `backend` (`serveBackend`, `RustBackend`, in a
//! backend worker) and `coordinator` (`runCoordinator`, in the SharedWorker).
//! The npm package is built once per role, so that a backend worker loads
//! only what a backend runs. Each part of the shared runtime is built for
//! the roles that use it (`cfg` on the part), so a build of any set of roles
//! has no unused code and no blanket `allow` over it.

#[cfg(feature = "backend")]
mod backend;
#[cfg(feature = "tab")]
mod client;
#[cfg(feature = "coordinator")]
mod coordinator;
mod error;
mod features;
#[cfg(feature = "tab")]
mod options;
mod runtime;
#[cfg(feature = "tab")]
mod session_backend;
mod typescript;
#[cfg(feature = "tab")]
mod workers;

#[cfg(feature = "backend")]
pub use backend::{BackendHandle, BackendSession, mount, serve_backend};
#[cfg(feature = "tab")]
pub use client::Client;
#[cfg(feature = "tab")]
pub use client::KeyedSession;
#[cfg(feature = "coordinator")]
pub use coordinator::{CoordinatorHandle, run_coordinator};
pub use error::{ErrorCode, TabworkerError};
pub use features::{Features, features};
pub use runtime::codec::{from_js, to_js};
pub use runtime::locks;
pub use runtime::timer;
#[cfg(feature = "tab")]
pub use session_backend::SessionBackend;
