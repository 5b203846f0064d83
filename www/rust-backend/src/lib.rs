//! An example backend written once in Rust with tabworker's [`RustBackend`]:
//! a counter every session shares. The same code is built two ways:
//!
//! - into a browser worker (`wasm32`: `node scripts/build.mjs` writes
//!   `www/rust-backend/pkg/`; the worker entry is `www/rust-backend/worker.js`);
//! - into a native executable that a Plane cluster runs (`cargo build -p
//!   counter-backend`, `src/main.rs`), its sessions arriving as WebSockets
//!   through Plane's proxy.
//!
//! It speaks the same protocol as the JavaScript example (`www/counter-backend.js`):
//!
//! - start: the count starts at `env.START` (default 0); the backend declares
//!   itself ready at the end of `start`;
//! - each session is greeted with event `welcome` `{ count, sessions }`;
//! - event `increment` `{ by }` adds `by` and broadcasts event `count`;
//! - request `read` answers the count; `info` answers `{ key, mounted,
//!   client, language, runs_on }`; `whoami` answers the session's
//!   `{ user, auth }`; `fail` fails with `handler-error`;
//! - on a soft stop it broadcasts event `stopping` with the final count.

#[cfg(target_arch = "wasm32")]
use tabworker::Serve;
use tabworker::{RustBackend, Session, Value};

/// The counter's state.
#[derive(Default)]
pub struct Counter {
    count: f64,
    key: String,
    mounted: bool,
}

/// Where this build runs, as `info` reports it.
const RUNS_ON: &str = if cfg!(target_arch = "wasm32") { "browser" } else { "native" };

/// The counter backend, ready to `serve()`.
pub fn counter() -> RustBackend<Counter> {
    RustBackend::new(Counter::default())
        .declares_ready()
        .start(|counter, ctx| {
            counter.count = match ctx.env("START") {
                Some(start) => start.parse().map_err(|_| format!("START is not a number: {start}"))?,
                None => 0.0,
            };
            counter.key = ctx.key();
            counter.mounted = ctx.has_mount();
            ctx.ready();
            Ok(())
        })
        .on_session(|counter, session: &Session| {
            let sessions = session.backend().sessions() as f64;
            let welcome = Value::object([("count", counter.count.into()), ("sessions", sessions.into())]);
            let _ = session.send("welcome", &welcome);
        })
        .on("increment", |counter, session, payload| {
            counter.count += payload.get("by").and_then(Value::as_f64).unwrap_or(1.0);
            session.backend().broadcast("count", &counter.count.into());
        })
        .handle("read", |counter, _, _| Ok(counter.count.into()))
        .handle("info", |counter, session, _| {
            Ok(Value::object([
                ("key", counter.key.as_str().into()),
                ("mounted", counter.mounted.into()),
                ("client", session.client_id().into()),
                ("language", "rust".into()),
                ("runs_on", RUNS_ON.into()),
            ]))
        })
        .handle("whoami", |_, session, _| {
            let user = session.user().map_or(Value::Null, Value::from);
            Ok(Value::object([("user", user), ("auth", Value::Object(session.auth()))]))
        })
        .handle("fail", |_, _, _| Err("asked to fail".to_string()))
        .stop(|counter, served| served.broadcast("stopping", &counter.count.into()))
}

/// Starts serving when the worker loads this module.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn main() -> Result<(), wasm_bindgen::JsValue> {
    counter().serve()?;
    Ok(())
}
