//! Backends written in Rust. An app crate that depends on `tabworker` builds
//! its backend with [`RustBackend`] — its state, its start (with the
//! connect's env and the OPFS mount), its sessions, events and request
//! handlers, and its soft stop — compiles it to its own wasm, and starts it
//! from a worker entry script, by tag like any backend:
//!
//! ```ignore
//! use tabworker::web::{RustBackend, Session};
//! use wasm_bindgen::prelude::*;
//!
//! #[derive(Default)]
//! struct Counter { count: f64 }
//!
//! #[wasm_bindgen(start)]
//! pub fn main() -> Result<(), JsValue> {
//!     RustBackend::new(Counter::default())
//!         .start(|counter, ctx| {
//!             counter.count = ctx.env("START").and_then(|s| s.parse().ok()).unwrap_or(0.0);
//!             Ok(())
//!         })
//!         .on("increment", |counter, session: &Session, by| {
//!             counter.count += by.as_f64().unwrap_or(1.0);
//!             session.backend().broadcast("count", &counter.count.into());
//!         })
//!         .handle("read", |counter, _session, _payload| Ok(counter.count.into()))
//!         .serve()?;
//!     Ok(())
//! }
//! ```
//!
//! Underneath it is `serveBackend` with a config made of these closures, so
//! a Rust backend follows every rule a JavaScript one does.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::backend::{BackendHandle, serve_backend};
use super::error::{ErrorCode, TabworkerError};
use super::runtime::js::{call_method, get, object};

type StartFn<S> = Box<dyn FnMut(&mut S, &Context) -> Result<(), String>>;
type SessionFn<S> = Box<dyn FnMut(&mut S, &Session)>;
type EventFn<S> = Rc<RefCell<dyn FnMut(&mut S, &Session, JsValue)>>;
type HandlerFn<S> = Box<dyn FnMut(&mut S, &Session, JsValue) -> Result<JsValue, String>>;
type StopFn<S> = Box<dyn FnMut(&mut S)>;

/// A backend written in Rust, over its state `S`: each closure gets the
/// state mutably, one at a time.
pub struct RustBackend<S: 'static> {
    state: S,
    declares_ready: bool,
    start: Option<StartFn<S>>,
    session: Option<SessionFn<S>>,
    events: Vec<(String, EventFn<S>)>,
    handlers: Vec<(String, HandlerFn<S>)>,
    stop: Option<StopFn<S>>,
}

/// What `start` is given: the backend's id and key, the connect's `env`, its
/// OPFS mount, and `ready()` for a backend that declares it.
#[derive(Clone)]
pub struct Context {
    js: JsValue,
}

impl Context {
    fn get(&self, name: &str) -> JsValue {
        get(&self.js, name)
    }

    /// The backend's id.
    pub fn backend_id(&self) -> String {
        self.get("backendId").as_string().unwrap_or_default()
    }

    /// The key it holds (`tabworker:default` for the app's default backend).
    pub fn key(&self) -> String {
        self.get("key").as_string().unwrap_or_default()
    }

    /// `executable.env[name]` of the connect that started it.
    pub fn env(&self, name: &str) -> Option<String> {
        get(&self.get("env"), name).as_string()
    }

    /// The OPFS directory of its key (a `FileSystemDirectoryHandle`), or `null` without a mount.
    pub fn mount(&self) -> JsValue {
        self.get("mount")
    }

    /// Declares the backend ready (with [`RustBackend::declares_ready`]);
    /// may be called later, from a spawned future.
    pub fn ready(&self) {
        // `ready` is the host's own function, which does not throw.
        let _ = call_method(&self.js, "ready", &[]);
    }

    /// Whether `secret` is the `secret_token` of a connect that reached this backend.
    pub fn is_secret_token(&self, secret: &str) -> bool {
        call_method(&self.js, "isSecretToken", &[secret.into()]).ok().and_then(|v| v.as_bool()).unwrap_or(false)
    }
}

/// One session, as the closures see it.
#[derive(Clone)]
pub struct Session {
    js: JsValue,
    backend: Served,
}

impl Session {
    fn get(&self, name: &str) -> JsValue {
        get(&self.js, name)
    }

    /// The client (tab) the session is for.
    pub fn client_id(&self) -> String {
        self.get("clientId").as_string().unwrap_or_default()
    }

    /// The connect attempt.
    pub fn session_id(&self) -> String {
        self.get("sessionId").as_string().unwrap_or_default()
    }

    /// Sessions opened with `open(url)`: the connect's `user`.
    pub fn user(&self) -> Option<String> {
        self.get("user").as_string()
    }

    /// Sends event `event` to this session's tab.
    pub fn send(&self, event: &str, payload: &JsValue) -> Result<(), JsValue> {
        call_method(&self.js, "send", &[event.into(), payload.clone()]).map(drop)
    }

    /// The backend serving it (to broadcast to every session).
    pub fn backend(&self) -> &Served {
        &self.backend
    }
}

/// A running Rust backend: what `serve` started. Kept alive by `serve`
/// itself; clones share it.
#[derive(Clone)]
pub struct Served {
    handle: Rc<RefCell<Option<BackendHandle>>>,
}

impl Served {
    /// Sends event `event` to every open session.
    pub fn broadcast(&self, event: &str, payload: &JsValue) {
        if let Some(handle) = self.handle.borrow().as_ref() {
            if let Err(e) = handle.broadcast(event.to_string(), payload.clone()) {
                web_sys::console::warn_1(&format!("tabworker backend: broadcast failed: {e}").into());
            }
        }
    }

    /// How many sessions are open.
    pub fn sessions(&self) -> usize {
        self.handle.borrow().as_ref().map_or(0, BackendHandle::sessions)
    }
}

thread_local! {
    /// The backend this worker serves: it lives as long as the worker.
    static SERVED: RefCell<Option<Served>> = const { RefCell::new(None) };
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

/// The backend this worker serves, once [`RustBackend::serve`] started it
/// (to broadcast from `stop`, or from a spawned future).
pub fn served() -> Option<Served> {
    SERVED.with(|s| s.borrow().clone())
}

impl<S: 'static> RustBackend<S> {
    /// A backend over `state`; it serves nothing until [`RustBackend::serve`].
    pub fn new(state: S) -> Self {
        RustBackend {
            state,
            declares_ready: false,
            start: None,
            session: None,
            events: Vec::new(),
            handlers: Vec::new(),
            stop: None,
        }
    }

    /// Runs once, before any session. An `Err` ends the backend with `exit_error`.
    pub fn start(mut self, start: impl FnMut(&mut S, &Context) -> Result<(), String> + 'static) -> Self {
        self.start = Some(Box::new(start));
        self
    }

    /// The backend is ready only once it calls [`Context::ready`] (by
    /// default: when `start` returns).
    pub fn declares_ready(mut self) -> Self {
        self.declares_ready = true;
        self
    }

    /// Called once per session, when it opens.
    pub fn on_session(mut self, session: impl FnMut(&mut S, &Session) + 'static) -> Self {
        self.session = Some(Box::new(session));
        self
    }

    /// Called with each event `event` a tab sends, and its payload.
    pub fn on(mut self, event: &str, listener: impl FnMut(&mut S, &Session, JsValue) + 'static) -> Self {
        self.events.push((event.to_string(), Rc::new(RefCell::new(listener))));
        self
    }

    /// Answers requests for `method`: `Ok` is the result, `Err` reaches the
    /// caller as a `handler-error` with its text.
    pub fn handle(
        mut self,
        method: &str,
        handler: impl FnMut(&mut S, &Session, JsValue) -> Result<JsValue, String> + 'static,
    ) -> Self {
        self.handlers.push((method.to_string(), Box::new(handler)));
        self
    }

    /// Runs on a soft termination, before the worker is terminated.
    pub fn stop(mut self, stop: impl FnMut(&mut S) + 'static) -> Self {
        self.stop = Some(Box::new(stop));
        self
    }

    /// Serves sessions in this dedicated worker, for as long as it lives.
    /// Fails outside a dedicated worker, or if this worker serves already.
    pub fn serve(self) -> Result<Served, TabworkerError> {
        if SERVED.with(|s| s.borrow().is_some()) {
            return Err(TabworkerError::new(ErrorCode::InvalidArgument, "this worker serves a backend already"));
        }
        let served = Served { handle: Rc::new(RefCell::new(None)) };
        let RustBackend { state, declares_ready, start, session, events, handlers, stop } = self;
        let state = Rc::new(RefCell::new(state));
        let mut entries: Vec<(&str, JsValue)> = vec![("declaresReady", declares_ready.into())];

        if let Some(mut start) = start {
            let state = state.clone();
            let start = Closure::<dyn FnMut(JsValue) -> Result<(), JsValue>>::new(move |ctx: JsValue| {
                start(&mut state.borrow_mut(), &Context { js: ctx }).map_err(|e| js_sys::Error::new(&e).into())
            });
            entries.push(("start", start.into_js_value()));
        }
        if let Some(stop) = stop {
            let state = state.clone();
            let stop = Rc::new(RefCell::new(stop));
            let stop = Closure::<dyn FnMut()>::new(move || {
                let stop = stop.clone();
                with_state(&state, move |state| (stop.borrow_mut())(state));
            });
            entries.push(("stop", stop.into_js_value()));
        }

        let handlers_js = js_sys::Object::new();
        for (method, handler) in handlers {
            let (state, served, handler) = (state.clone(), served.clone(), RefCell::new(handler));
            let handler = Closure::<dyn FnMut(JsValue, JsValue) -> Result<JsValue, JsValue>>::new(
                move |payload: JsValue, session: JsValue| {
                    let session = Session { js: session, backend: served.clone() };
                    // A request arrives on its own event, never inside another closure.
                    let mut state = state.try_borrow_mut().map_err(|_| js_sys::Error::new("the backend is busy"))?;
                    (handler.borrow_mut())(&mut state, &session, payload).map_err(|e| js_sys::Error::new(&e).into())
                },
            );
            // Setting a property on a fresh plain object cannot fail.
            let _ = js_sys::Reflect::set(&handlers_js, &method.into(), &handler.into_js_value());
        }
        entries.push(("handlers", handlers_js.into()));

        let on_session = session.map(|f| Rc::new(RefCell::new(f)));
        let (session_state, session_served) = (state, served.clone());
        let session = Closure::<dyn FnMut(JsValue)>::new(move |js: JsValue| {
            let session = Session { js: js.clone(), backend: session_served.clone() };
            for (event, listener) in &events {
                let (state, listener, served) = (session_state.clone(), listener.clone(), session_served.clone());
                let on_event = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |payload: JsValue, js: JsValue| {
                    let session = Session { js, backend: served.clone() };
                    let listener = listener.clone();
                    with_state(&state, move |state| (listener.borrow_mut())(state, &session, payload));
                });
                // A session's `on` throws only for a bad name, and the name was checked at `on`.
                let _ = call_method(&js, "on", &[event.as_str().into(), on_event.into_js_value()]);
            }
            if let Some(on_session) = on_session.clone() {
                with_state(&session_state, move |state| (on_session.borrow_mut())(state, &session));
            }
        });
        entries.push(("session", session.into_js_value()));

        let config = object(&entries);
        let handle = serve_backend(config.unchecked_into())?;
        *served.handle.borrow_mut() = Some(handle);
        SERVED.with(|s| *s.borrow_mut() = Some(served.clone()));
        Ok(served)
    }
}
