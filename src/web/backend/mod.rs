//! The backend worker: its host (`host.rs`: the worker's side of the
//! protocol, the sessions' ports, the app's code at start, at each session
//! and at a soft stop), the session as the app sees it (`session.rs`), the
//! app's code written in JavaScript (`js_code.rs`, `serveBackend`) or in
//! Rust (`rust_code.rs`, `RustBackend::serve`), and its OPFS mount (`mount.rs`).

mod host;
mod js_code;
mod mount;
mod rust_code;
mod session;

pub use host::BackendHandle;
pub use js_code::serve_backend;
pub use rust_code::mount;
pub use session::BackendSession;
