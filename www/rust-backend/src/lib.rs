//! An example backend written in Rust with tabworker's [`RustBackend`]: a
//! counter every tab of the app shares. It speaks the same protocol as the
//! JavaScript example (`www/counter-backend.js`):
//!
//! - start: the count starts at `env.START` (default 0); the backend declares
//!   itself ready at the end of `start`;
//! - each session is greeted with event `welcome` `{ count, sessions }`;
//! - event `increment` `{ by }` adds `by` and broadcasts event `count`;
//! - request `read` answers the count; `info` answers `{ key, mounted, client }`;
//!   `fail` fails with `handler-error`;
//! - on a soft stop it broadcasts event `stopping` with the final count.
//!
//! Built by `node scripts/build.mjs` into `www/rust-backend/pkg/`; the worker
//! entry is `www/rust-backend/worker.js`.
#![cfg(target_arch = "wasm32")]

use tabworker::web::{RustBackend, Session};
use wasm_bindgen::prelude::*;

/// The counter's state.
#[derive(Default)]
struct Counter {
    count: f64,
    key: String,
    mounted: bool,
}

fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (key, value) in entries {
        // Setting a property on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&object, &(*key).into(), value);
    }
    object.into()
}

/// Starts serving when the worker loads this module.
#[wasm_bindgen(start)]
pub fn main() -> Result<(), JsValue> {
    RustBackend::new(Counter::default())
        .declares_ready()
        .start(|counter, ctx| {
            counter.count = match ctx.env("START") {
                Some(start) => start.parse().map_err(|_| format!("START is not a number: {start:?}"))?,
                None => 0.0,
            };
            counter.key = ctx.key();
            counter.mounted = !ctx.mount().is_null();
            ctx.ready();
            Ok(())
        })
        .on_session(|counter, session: &Session| {
            let sessions = session.backend().sessions() as f64;
            let welcome = object(&[("count", counter.count.into()), ("sessions", sessions.into())]);
            let _ = session.send("welcome", &welcome);
        })
        .on("increment", |counter, session, payload| {
            let by = js_sys::Reflect::get(&payload, &"by".into()).ok().and_then(|b| b.as_f64()).unwrap_or(1.0);
            counter.count += by;
            session.backend().broadcast("count", &counter.count.into());
        })
        .handle("read", |counter, _, _| Ok(counter.count.into()))
        .handle("info", |counter, session, _| {
            Ok(object(&[
                ("key", counter.key.as_str().into()),
                ("mounted", counter.mounted.into()),
                ("client", session.client_id().into()),
                ("language", "rust".into()),
            ]))
        })
        .handle("fail", |_, _, _| Err("asked to fail".to_string()))
        .stop(|counter| {
            if let Some(served) = tabworker::web::served() {
                served.broadcast("stopping", &counter.count.into());
            }
        })
        .serve()?;
    Ok(())
}
