//! Backends written in Rust, served in a browser worker. The app's crate
//! builds its backend once with [`RustBackend`](crate::RustBackend) (the
//! same code its native build serves behind Plane) and, in the wasm build,
//! calls `serve()` from a worker entry script:
//!
//! ```ignore
//! #[wasm_bindgen(start)]
//! pub fn main() -> Result<(), JsValue> {
//!     my_backend().serve()?;
//!     Ok(())
//! }
//! ```
//!
//! Underneath it is `serveBackend` with a config made of the backend's
//! closures, so a Rust backend follows every rule a JavaScript one does;
//! payloads cross as plain data ([`Value`]s).

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::backend::{BackendHandle, serve_backend};
use super::error::{ErrorCode, TabworkerError, describe};
use super::runtime::codec::{from_js, to_js};
use super::runtime::js::{call_method, get, object};
use crate::backend::rust::{Context, ContextLink, RustBackend, Serve, Served, ServedLink, Session, SessionLink};
use crate::model::value::{Object, Value};

/// The host's start context, as `serveBackend` gives it to `start`.
struct JsContext {
    js: JsValue,
}

impl ContextLink for JsContext {
    fn backend_id(&self) -> String {
        get(&self.js, "backendId").as_string().unwrap_or_default()
    }

    fn key(&self) -> String {
        get(&self.js, "key").as_string().unwrap_or_default()
    }

    fn env(&self, name: &str) -> Option<String> {
        get(&get(&self.js, "env"), name).as_string()
    }

    fn ready(&self) {
        // `ready` is the host's own function, which does not throw.
        let _ = call_method(&self.js, "ready", &[]);
    }

    fn is_secret_token(&self, secret: &str) -> bool {
        call_method(&self.js, "isSecretToken", &[secret.into()]).ok().and_then(|v| v.as_bool()).unwrap_or(false)
    }

    fn has_mount(&self) -> bool {
        !mount_of(&self.js).is_null()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn mount_of(js: &JsValue) -> JsValue {
    let mount = get(js, "mount");
    if mount.is_undefined() { JsValue::NULL } else { mount }
}

/// The OPFS directory of the backend's key (a `FileSystemDirectoryHandle`),
/// or `null` without a mount: what only a browser worker has.
pub fn mount(ctx: &Context) -> JsValue {
    ctx.layer().downcast_ref::<JsContext>().map_or(JsValue::NULL, |c| mount_of(&c.js))
}

/// A session object of the host.
struct JsSession {
    js: JsValue,
}

impl SessionLink for JsSession {
    fn client_id(&self) -> String {
        get(&self.js, "clientId").as_string().unwrap_or_default()
    }

    fn session_id(&self) -> String {
        get(&self.js, "sessionId").as_string().unwrap_or_default()
    }

    fn user(&self) -> Option<String> {
        get(&self.js, "user").as_string()
    }

    fn auth(&self) -> Object {
        from_js::<Value>(get(&self.js, "auth")).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default()
    }

    fn send(&self, event: &str, payload: &Value) -> Result<(), String> {
        call_method(&self.js, "send", &[event.into(), to_js(payload)]).map(drop).map_err(|e| describe(&e))
    }
}

/// The host's handle, once `serveBackend` returned it.
#[derive(Default)]
struct JsServed {
    handle: RefCell<Option<BackendHandle>>,
}

impl ServedLink for JsServed {
    fn broadcast(&self, event: &str, payload: &Value) {
        if let Some(handle) = self.handle.borrow().as_ref() {
            if let Err(e) = handle.broadcast(event.to_string(), to_js(payload)) {
                web_sys::console::warn_1(&format!("tabworker backend: broadcast failed: {e}").into());
            }
        }
    }

    fn sessions(&self) -> usize {
        self.handle.borrow().as_ref().map_or(0, BackendHandle::sessions)
    }
}

/// Runs `f` on the state now, or — when a closure holds it already (the
/// app's `start` declared the backend ready, and a waiting session opened
/// at once) — as soon as that closure returns.
fn with_state<S: 'static>(state: &Rc<RefCell<S>>, f: impl FnOnce(&mut S) + 'static) {
    match state.try_borrow_mut() {
        Ok(mut borrowed) => f(&mut borrowed),
        Err(_) => {
            let state = state.clone();
            wasm_bindgen_futures::spawn_local(async move { with_state(&state, f) });
        }
    }
}

thread_local! {
    /// Whether this worker serves a Rust backend already.
    static SERVING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl<S: 'static> Serve for RustBackend<S> {
    type Output = Result<Served, TabworkerError>;

    /// Serves sessions in this dedicated worker, for as long as it lives.
    /// Fails outside a dedicated worker, or if this worker serves already.
    fn serve(self) -> Result<Served, TabworkerError> {
        if SERVING.with(std::cell::Cell::get) {
            return Err(TabworkerError::new(ErrorCode::InvalidArgument, "this worker serves a backend already"));
        }
        let link = Rc::new(JsServed::default());
        let served = Served::new(link.clone());
        let RustBackend { state, declares_ready, start, session, events, handlers, stop } = self;
        for (what, name) in events.keys().map(|n| ("an event name", n)).chain(handlers.keys().map(|n| ("a method", n)))
        {
            crate::channel::check_name(what, name)
                .map_err(|e| TabworkerError::new(ErrorCode::InvalidArgument, e.detail))?;
        }
        let state = Rc::new(RefCell::new(state));
        let mut entries: Vec<(&str, JsValue)> = vec![("declaresReady", declares_ready.into())];

        if let Some(mut start) = start {
            let state = state.clone();
            let start = Closure::<dyn FnMut(JsValue) -> Result<(), JsValue>>::new(move |js: JsValue| {
                let ctx = Context::new(Rc::new(JsContext { js }));
                start(&mut state.borrow_mut(), &ctx).map_err(|e| js_sys::Error::new(&e).into())
            });
            entries.push(("start", start.into_js_value()));
        }
        if let Some(stop) = stop {
            let (state, served) = (state.clone(), served.clone());
            let stop = Rc::new(RefCell::new(stop));
            let stop = Closure::<dyn FnMut()>::new(move || {
                let (stop, served) = (stop.clone(), served.clone());
                with_state(&state, move |state| (stop.borrow_mut())(state, &served));
            });
            entries.push(("stop", stop.into_js_value()));
        }

        let handlers_js = js_sys::Object::new();
        for (method, handler) in handlers {
            let (state, served, handler) = (state.clone(), served.clone(), RefCell::new(handler));
            let handler = Closure::<dyn FnMut(JsValue, JsValue) -> Result<JsValue, JsValue>>::new(
                move |payload: JsValue, js: JsValue| {
                    let session = Session::new(Rc::new(JsSession { js }), served.clone());
                    let payload = from_js::<Value>(payload).map_err(|e| js_sys::Error::new(&e.to_string()))?;
                    // A request arrives on its own event, never inside another closure.
                    let mut state = state.try_borrow_mut().map_err(|_| js_sys::Error::new("the backend is busy"))?;
                    let result = (handler.borrow_mut())(&mut state, &session, payload);
                    result.map(|value| to_js(&value)).map_err(|e| js_sys::Error::new(&e).into())
                },
            );
            // Setting a property on a fresh plain object cannot fail.
            let _ = js_sys::Reflect::set(&handlers_js, &method.into(), &handler.into_js_value());
        }
        entries.push(("handlers", handlers_js.into()));

        let events: Vec<(String, Rc<RefCell<_>>)> =
            events.into_iter().map(|(name, listener)| (name, Rc::new(RefCell::new(listener)))).collect();
        let on_session = session.map(|f| Rc::new(RefCell::new(f)));
        let (session_state, session_served) = (state, served.clone());
        let session = Closure::<dyn FnMut(JsValue)>::new(move |js: JsValue| {
            for (event, listener) in &events {
                let (state, listener, served) = (session_state.clone(), listener.clone(), session_served.clone());
                let on_event = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |payload: JsValue, js: JsValue| {
                    let session = Session::new(Rc::new(JsSession { js }), served.clone());
                    let payload = match from_js::<Value>(payload) {
                        Ok(payload) => payload,
                        Err(e) => {
                            let text = format!("tabworker backend: an event's payload is not plain data: {e}");
                            return web_sys::console::warn_1(&text.into());
                        }
                    };
                    let listener = listener.clone();
                    with_state(&state, move |state| (listener.borrow_mut())(state, &session, payload));
                });
                // A session's `on` throws only for a bad name, and the names were checked above.
                let _ = call_method(&js, "on", &[event.as_str().into(), on_event.into_js_value()]);
            }
            if let Some(on_session) = on_session.clone() {
                let session = Session::new(Rc::new(JsSession { js }), session_served.clone());
                with_state(&session_state, move |state| (on_session.borrow_mut())(state, &session));
            }
        });
        entries.push(("session", session.into_js_value()));

        let config = object(&entries);
        let handle = serve_backend(config.unchecked_into())?;
        *link.handle.borrow_mut() = Some(handle);
        SERVING.with(|s| s.set(true));
        Ok(served)
    }
}
