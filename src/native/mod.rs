//! The native layer (feature `native`): a [`RustBackend`](crate::RustBackend)
//! served as a process, the way a Plane cluster runs a backend. It carries
//! events in (connections, WebSocket messages, SIGTERM) and the core's
//! answers out; what a frame reaches is decided by the core's
//! [`Running`](crate::Running), how a frame is read by
//! [`channel::text`](crate::channel::text), who a session is by
//! [`plane::verified`](crate::plane::verified).
//!
//! The process, as Plane expects of a backend:
//! - its environment is the connect's `executable.env` (read by `ctx.env`);
//!   `PORT` is where it listens (on `HOST`, every interface without it),
//!   `PLANE_BACKEND_ID` and `PLANE_KEY` (when the executor gives them) its
//!   id and key;
//! - it is ready when it listens: it binds only once `start` returned (and,
//!   with `declares_ready`, once it called `ready()`);
//! - each WebSocket is one session, its user, auth and secret taken from
//!   the `x-verified-*` headers of Plane's proxy;
//! - SIGTERM (or SIGINT) is a soft stop: `stop` runs and may still
//!   broadcast, every session is closed, and the process exits 0.

mod server;

pub use server::{NativeError, Options};
