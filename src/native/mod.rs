//! The native layer (feature `native`): a [`RustBackend`](crate::RustBackend)
//! served as a process, the way a Plane cluster runs a backend. It carries
//! events in (connections, WebSocket messages, SIGTERM) and the core's
//! answers out; what a frame reaches is decided by the core's
//! [`Running`](crate::Running), how a frame is read by
//! [`channel::text`](crate::channel::text), who a session is by
//! [`plane::verified`](crate::plane::verified), and how much the process
//! holds by [`limits`].
//!
//! The process, as Plane expects of a backend:
//! - its environment is the connect's `executable.env` (read by `ctx.env`);
//!   `PORT` is where it listens (on `HOST`, every interface without it),
//!   `PLANE_BACKEND_ID` (or `SESSION_BACKEND_ID`, as Plane's Docker runtime
//!   names it; required) and `PLANE_KEY` its id and key;
//! - it is ready when it listens: it binds only once `start` returned (and,
//!   with `declares_ready`, once it called `ready()`);
//! - each WebSocket is one session, its user, auth and secret taken from
//!   the `x-verified-*` headers of Plane's proxy. Those headers are only
//!   true when Plane's proxy is the only one that reaches the port: a
//!   handshake without `x-verified-backend` naming this backend (and
//!   `x-verified-secret`) is refused, but nothing here can tell the proxy
//!   from a peer that writes the same headers. `ctx.is_secret_token(s)` is
//!   true only for the asking session's own secret;
//! - a handshake must finish within [`limits::HANDSHAKE_TIMEOUT`]; at most
//!   [`limits::MAX_CONNECTIONS`] connections are held (past it: `503`); a
//!   failed accept (out of file descriptors) is tried again after 5 ms,
//!   doubling up to 1 s; a session whose unsent frames would pass
//!   [`limits::OUTBOX_FRAMES`] or [`limits::OUTBOX_BYTES`] is closed;
//! - SIGTERM (or SIGINT) is a soft stop: `stop` runs and may still
//!   broadcast, every session is closed, and the process exits 0.

pub mod limits;
mod options;
mod outbox;
mod process;
mod server;
mod session;

pub use limits::Limits;
pub use options::{NativeError, Options};

#[cfg(test)]
mod tests;
