//! The backend worker side: `serveBackend(handler | config)` runs
//! [`BackendHost`] in a dedicated worker spawned by the leader tab, runs the
//! app's start and stop code, and hands each session to the app's handler.

use crate::model::map::Map;
use std::cell::{RefCell, RefMut};
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DedicatedWorkerGlobalScope, MessageChannel, MessageEvent, MessagePort};

use super::backend_session::{BackendSession, Handlers, SessionInfo};
use super::error::{ErrorCode, TabworkerError, describe};
use super::runtime::channel::Payload;
use super::runtime::codec::to_js;
use super::runtime::frames::{Received, post_frame, receive};
use super::runtime::js::{get, object, random_id};
use super::runtime::listener::Listener;
use super::runtime::lock_table::LockTable;
use crate::backend::{BackendHost, BackendOutput};
use crate::model::ids::SessionId;
use crate::model::locks::LockId;
use crate::protocol::{BackendInit, BackendToTab, LeaderToBackend, PortRequest, TabToBackend, WireMessage};

#[wasm_bindgen]
extern "C" {
    /// `BackendHandler | BackendConfig` in TypeScript.
    #[wasm_bindgen(typescript_type = "BackendHandler | BackendConfig")]
    pub type BackendHandlerJs;
}

/// The app's code: its session handler, and its optional start and stop.
struct AppCode {
    session: js_sys::Function,
    start: Option<js_sys::Function>,
    stop: Option<js_sys::Function>,
}

#[wasm_bindgen]
extern "C" {
    /// `(payload: unknown, session: BackendSession) => unknown` in TypeScript.
    #[wasm_bindgen(typescript_type = "(payload: unknown, session: BackendSession) => unknown")]
    pub type RequestHandler;
}

struct OpenSession {
    /// The port the session's frames arrived on (the far end went to the tab).
    port: MessagePort,
    /// The app's port of a keyed session, once opened.
    app_port: Option<MessagePort>,
    /// The session as the app sees it, once it has it.
    app: Option<BackendSession>,
    close: js_sys::Function,
    /// A keyed session waits for its `open` here.
    handshake: Option<Listener>,
}

struct Host {
    core: BackendHost,
    scope: DedicatedWorkerGlobalScope,
    code: AppCode,
    handlers: Handlers,
    locks: LockTable<LockId>,
    sessions: Map<SessionId, OpenSession>,
    /// The far end of the channel opened last, on its way to the leader.
    carried: Option<MessagePort>,
    worker_id: String,
    /// Requests handled by sessions that ended.
    handled: u64,
    /// The functions of the start context (`ready`, `isSecretToken`).
    context: Vec<Closure<dyn FnMut(JsValue) -> JsValue>>,
    /// `ctx.openSync`, kept with the context.
    open_sync: Option<Closure<dyn FnMut(JsValue, JsValue) -> JsValue>>,
}

/// The running backend host. It serves for as long as this value lives;
/// keep it in a module-level binding of the worker script.
#[wasm_bindgen]
pub struct BackendHandle {
    host: Rc<RefCell<Host>>,
    _message: Listener,
}

/// Serves sessions in the calling dedicated worker (started by a leader tab):
/// `serveBackend(handler)` or `serveBackend({ start, session, stop,
/// declaresReady })`. `handler`/`session` is called with each session — the
/// client it is for, its own `MessagePort`, a promise that resolves when the
/// session ends, and for keyed backends the connect's `token`, `user` and
/// `auth`. `start(ctx)` runs once before any session; a backend is ready when
/// it returns, or with `declaresReady: true` when it calls `ctx.ready()`.
/// `stop()` runs on a soft termination.
/// (Typed in `types/backend.d.ts`, generic in the backend's schema.)
#[wasm_bindgen(js_name = serveBackend, skip_typescript)]
pub fn serve_backend(handler: BackendHandlerJs) -> Result<BackendHandle, TabworkerError> {
    let scope = js_sys::global().dyn_into::<DedicatedWorkerGlobalScope>().map_err(|_| {
        TabworkerError::new(ErrorCode::InvalidArgument, "serveBackend() must be called in a dedicated worker")
    })?;
    let (code, declares_ready, handlers) = app_code(handler.into())?;
    let worker_id: String = random_id();
    let host = Rc::new(RefCell::new(Host {
        core: BackendHost::new(worker_id.clone(), declares_ready),
        scope: scope.clone(),
        code,
        handlers: Rc::new(RefCell::new(handlers)),
        locks: LockTable::default(),
        sessions: Map::new(),
        carried: None,
        worker_id,
        handled: 0,
        context: Vec::new(),
        open_sync: None,
    }));
    let weak = Rc::downgrade(&host);
    let message = Listener::new(&scope, "message", move |event: MessageEvent| {
        if let Some(host) = weak.upgrade() {
            let received = receive::<LeaderToBackend>("backend", "the leader", &event);
            host.borrow_mut().core.from_leader(received.message);
            pump(&host);
        }
    });
    // Says `listening`.
    pump(&host);
    Ok(BackendHandle { host, _message: message })
}

/// This worker's compiled module, which the package's backend entry offers
/// the tab that started it, for the next worker it starts (see
/// `src/web/entry/backend.js`).
#[wasm_bindgen(js_name = compiledModule, skip_typescript)]
pub fn compiled_module() -> JsValue {
    wasm_bindgen::module()
}

/// Reads `serveBackend`'s argument: a function, or a `BackendConfig`.
fn app_code(value: JsValue) -> Result<(AppCode, bool, Map<String, js_sys::Function>), TabworkerError> {
    let invalid = |what: &str| {
        TabworkerError::new(
            ErrorCode::InvalidArgument,
            format!("serveBackend() needs a session handler function or {{ session, start?, stop? }}: {what}"),
        )
    };
    if let Some(session) = value.dyn_ref::<js_sys::Function>() {
        return Ok((AppCode { session: session.clone(), start: None, stop: None }, false, Map::new()));
    }
    if !value.is_object() {
        return Err(invalid("got neither"));
    }
    let get = |name: &str| get(&value, name);
    let function = |name: &str| -> Result<Option<js_sys::Function>, TabworkerError> {
        match get(name) {
            v if v.is_undefined() || v.is_null() => Ok(None),
            v => v.dyn_into().map(Some).map_err(|_| invalid(&format!("`{name}` is not a function"))),
        }
    };
    // Without a session function, sessions are served by handlers and events alone.
    let session = function("session")?.unwrap_or_else(|| js_sys::Function::new_no_args(""));
    let declares_ready = get("declaresReady").as_bool().unwrap_or(false);
    let mut handlers = Map::new();
    match get("handlers") {
        v if v.is_undefined() || v.is_null() => {}
        v if v.is_object() => {
            for entry in js_sys::Object::entries(v.unchecked_ref()) {
                let pair: js_sys::Array = entry.unchecked_into();
                let method = pair.get(0).as_string().unwrap_or_default();
                let handler =
                    pair.get(1).dyn_into().map_err(|_| invalid(&format!("handler `{method}` is not a function")))?;
                check_method(&method)?;
                handlers.insert(method, handler);
            }
        }
        _ => return Err(invalid("`handlers` is not an object")),
    }
    let code = AppCode { session, start: function("start")?, stop: function("stop")? };
    Ok((code, declares_ready, handlers))
}

fn check_method(method: &str) -> Result<(), TabworkerError> {
    crate::channel::check_name("a method name", method)
        .map_err(|e| TabworkerError::new(ErrorCode::InvalidArgument, e.detail))
}

#[wasm_bindgen]
impl BackendHandle {
    /// This worker's id (its liveness lock is named after it).
    #[wasm_bindgen(getter, js_name = workerId)]
    pub fn worker_id(&self) -> String {
        self.host.borrow().worker_id.clone()
    }

    /// How many sessions are open.
    #[wasm_bindgen(getter)]
    pub fn sessions(&self) -> usize {
        self.host.borrow().sessions.len()
    }

    /// How many requests went to a handler, over every session (open or ended).
    #[wasm_bindgen(getter)]
    pub fn handled(&self) -> f64 {
        let h = self.host.borrow();
        (h.handled + h.sessions.values().filter_map(|s| s.app.as_ref()).map(BackendSession::handled).sum::<u64>())
            as f64
    }

    /// Answers requests for `method` with `handler(payload, session)`: its
    /// return value (or what its promise resolves to) is the result; what it
    /// throws reaches the caller as a `handler-error`. Replaces an earlier one.
    pub fn handle(&self, method: String, handler: RequestHandler) -> Result<(), TabworkerError> {
        check_method(&method)?;
        let handler: js_sys::Function = JsValue::from(handler)
            .dyn_into()
            .map_err(|_| TabworkerError::new(ErrorCode::InvalidArgument, "the handler must be a function"))?;
        self.host.borrow().handlers.borrow_mut().insert(method, handler);
        Ok(())
    }

    /// Sends event `event` to every open session. Transferables cannot go
    /// to several sessions: a broadcast transfers nothing.
    pub fn broadcast(
        &self,
        event: String,
        #[wasm_bindgen(unchecked_param_type = "unknown")] payload: JsValue,
    ) -> Result<(), TabworkerError> {
        crate::channel::check_name("an event name", &event)
            .map_err(|e| TabworkerError::new(ErrorCode::InvalidArgument, e.detail))?;
        let sessions: Vec<BackendSession> =
            self.host.borrow().sessions.values().filter_map(|s| s.app.clone()).collect();
        for session in sessions {
            session.post_event(event.clone(), Payload::plain(payload.clone()))?;
        }
        Ok(())
    }
}

fn pump(host: &Rc<RefCell<Host>>) {
    loop {
        let Some(output) = host.borrow_mut().core.poll_output() else { break };
        match output {
            BackendOutput::ToLeader(message) => {
                let h = &mut *host.borrow_mut();
                let carried = if message.ports() == 1 { h.carried.take() } else { None };
                post_frame("backend", &h.scope, &message, carried.as_ref());
            }
            BackendOutput::Start(init) => start(host, init),
            BackendOutput::Stop => stop(host),
            BackendOutput::OpenSession(request) => open_session(host, request),
            BackendOutput::CloseSession(request) => {
                let closed = host.borrow_mut().sessions.remove(&request.session_id);
                if let Some(session) = closed {
                    if let Some(app) = &session.app {
                        app.close();
                        host.borrow_mut().handled += app.handled();
                    }
                    let _ = session.close.call0(&JsValue::NULL);
                    session.port.close();
                    if let Some(port) = session.app_port {
                        port.close();
                    }
                }
            }
            BackendOutput::Lock(command) => {
                let granted = |host: &Rc<RefCell<Host>>, lock: &LockId| {
                    host.borrow_mut().core.lock_granted(lock);
                    pump(host);
                };
                let lost = |host: &Rc<RefCell<Host>>, lock: &LockId| {
                    host.borrow_mut().core.lock_lost(lock);
                    pump(host);
                };
                LockTable::command(host, locks, command, "backend", granted, lost);
            }
            BackendOutput::Exit => {
                web_sys::console::warn_1(
                    &"tabworker backend: a newer backend of this key took its lock; ending".into(),
                );
                host.borrow().scope.close();
                break;
            }
        }
    }
}

fn locks(host: &RefCell<Host>) -> RefMut<'_, LockTable<LockId>> {
    RefMut::map(host.borrow_mut(), |h| &mut h.locks)
}

/// Runs the app's start code (if any) with its context, then tells the core.
fn start(host: &Rc<RefCell<Host>>, init: Option<BackendInit>) {
    let Some(start) = host.borrow().code.start.clone() else {
        host.borrow_mut().core.started(Ok(()));
        return;
    };
    let weak = Rc::downgrade(host);
    wasm_bindgen_futures::spawn_local(async move {
        let outcome = run_start(&weak, start, init).await;
        if let Some(host) = weak.upgrade() {
            if let Err(detail) = &outcome {
                web_sys::console::error_1(&format!("tabworker backend: start failed: {detail}").into());
            }
            host.borrow_mut().core.started(outcome);
            pump(&host);
        }
    });
}

async fn run_start(
    host: &Weak<RefCell<Host>>,
    start: js_sys::Function,
    init: Option<BackendInit>,
) -> Result<(), String> {
    let mount = match init.as_ref().and_then(|i| i.mount.clone().map(|m| (i.key.clone(), m))) {
        Some((key, name)) => {
            // The core started it once it held the mount's lock.
            let app = host.upgrade().and_then(|h| h.borrow().core.app().cloned());
            let app = app.ok_or("the backend was started without its app")?;
            super::mount::mount_directory(app.shared(), &key, &name)
                .await
                .map_err(|e| format!("cannot mount OPFS directory `{name}`: {e}"))?
        }
        None => JsValue::NULL,
    };
    let ctx = context(host, init.as_ref(), mount);
    let returned = start.call1(&JsValue::NULL, &ctx).map_err(|e| describe(&e))?;
    JsFuture::from(js_sys::Promise::resolve(&returned)).await.map(drop).map_err(|e| describe(&e))
}

/// The `BackendContext` given to `start`.
fn context(host: &Weak<RefCell<Host>>, init: Option<&BackendInit>, mount: JsValue) -> JsValue {
    let weak = host.clone();
    let ready = Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |_| {
        if let Some(host) = weak.upgrade() {
            host.borrow_mut().core.declare_ready();
            pump(&host);
        }
        JsValue::UNDEFINED
    });
    let weak = host.clone();
    let is_secret = Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |secret: JsValue| {
        let known = match (weak.upgrade(), secret.as_string()) {
            (Some(host), Some(secret)) => host.borrow().core.knows_secret(&secret),
            _ => false,
        };
        known.into()
    });
    let dir = mount.clone();
    let open_sync = Closure::<dyn FnMut(JsValue, JsValue) -> JsValue>::new(move |name: JsValue, options: JsValue| {
        wasm_bindgen_futures::future_to_promise(super::mount::open_sync(dir.clone(), name, options)).into()
    });
    let env = init.map(|i| to_js(&i.env)).unwrap_or_else(|| js_sys::Object::new().into());
    let ctx = object(&[
        ("backendId", init.map_or(JsValue::NULL, |i| i.backend_id.as_str().into())),
        ("key", init.map_or(JsValue::NULL, |i| i.key.as_str().into())),
        ("env", env),
        ("mount", mount),
        ("ready", ready.as_ref().clone()),
        ("isSecretToken", is_secret.as_ref().clone()),
        ("openSync", open_sync.as_ref().clone()),
    ]);
    if let Some(host) = host.upgrade() {
        let mut host = host.borrow_mut();
        host.context = vec![ready, is_secret];
        host.open_sync = Some(open_sync);
    }
    ctx
}

/// Runs the app's stop code (if any), then tells the core.
fn stop(host: &Rc<RefCell<Host>>) {
    let Some(stop) = host.borrow().code.stop.clone() else {
        host.borrow_mut().core.stopped();
        return;
    };
    let weak = Rc::downgrade(host);
    wasm_bindgen_futures::spawn_local(async move {
        let returned = stop.call0(&JsValue::NULL);
        if let Ok(returned) = returned {
            // A stop that rejects has still stopped.
            let _ = JsFuture::from(js_sys::Promise::resolve(&returned)).await;
        }
        if let Some(host) = weak.upgrade() {
            host.borrow_mut().core.stopped();
            pump(&host);
        }
    });
}

/// Opens a channel: one end to the app's handler (for a keyed backend, once
/// the tab's `open` arrived on it), the other to the leader.
fn open_session(host: &Rc<RefCell<Host>>, request: PortRequest) {
    let channel = match MessageChannel::new() {
        Ok(channel) => channel,
        Err(e) => return web_sys::console::warn_2(&"tabworker backend: no MessageChannel".into(), &e),
    };
    let mut close = None;
    let closed = js_sys::Promise::new(&mut |resolve, _| close = Some(resolve));
    let Some(close) = close else { return };
    // A session asked for by backend id was opened with `open(url)`: the
    // tab's `open` with its token comes first. One of the default path is
    // the app's at once.
    let keyed = request.backend_id.is_some();
    let port = channel.port1();
    let open = keyed.then(|| {
        let weak = Rc::downgrade(host);
        let (request, closed) = (request.clone(), closed.clone());
        let listener = Listener::new(&port, "message", move |event: MessageEvent| {
            if let Some(host) = weak.upgrade() {
                on_open(&host, &request, &closed, event);
            }
        });
        port.start();
        listener
    });
    {
        let mut h = host.borrow_mut();
        h.carried = Some(channel.port2());
        let session = OpenSession { port: port.clone(), app_port: None, app: None, close, handshake: open };
        h.sessions.insert(request.session_id.clone(), session);
    }
    if !keyed {
        let info = SessionInfo {
            client_id: request.client_id.clone(),
            session_id: request.session_id.clone(),
            closed,
            opened: None,
        };
        call_handler(host, port, info);
    }
}

/// The first frame on a keyed session's port: `open`, with the token of a
/// connect that reached this backend and the app's port.
fn on_open(host: &Rc<RefCell<Host>>, request: &PortRequest, closed: &js_sys::Promise, event: MessageEvent) {
    let Some(port) = host.borrow_mut().sessions.get_mut(&request.session_id).map(|s| {
        // One `open` per session: the listener goes.
        s.handshake = None;
        s.port.clone()
    }) else {
        return;
    };
    let Received { message, port: app_port } = receive::<TabToBackend>("backend", "a tab", &event);
    let opened = host.borrow().core.open(message);
    let answer = match (opened, app_port) {
        (Ok(open), Some(app_port)) => {
            let info = SessionInfo {
                client_id: request.client_id.clone(),
                session_id: request.session_id.clone(),
                closed: closed.clone(),
                opened: Some(open),
            };
            if let Some(s) = host.borrow_mut().sessions.get_mut(&request.session_id) {
                s.app_port = Some(app_port.clone());
            }
            post_frame("backend", &port, &BackendToTab::Opened, None);
            return call_handler(host, app_port, info);
        }
        (Err(refusal), app_port) => {
            if let Some(app_port) = app_port {
                app_port.close();
            }
            refusal
        }
        // An `open` decoded against its one port always has it.
        (Ok(_), None) => return,
    };
    post_frame("backend", &port, &answer, None);
}

/// Gives the app its session on `port`: the channel's events and requests
/// are served on it from now on, and the app's session handler is called.
fn call_handler(host: &Rc<RefCell<Host>>, port: MessagePort, info: SessionInfo) {
    let handlers = host.borrow().handlers.clone();
    let id = info.session_id.clone();
    let session = BackendSession::new(port, info, handlers);
    if let Some(open) = host.borrow_mut().sessions.get_mut(&id) {
        open.app = Some(session.clone());
    }
    let handler = host.borrow().code.session.clone();
    if let Err(e) = handler.call1(&JsValue::NULL, &session.js()) {
        web_sys::console::error_1(&format!("tabworker backend: the session handler threw: {}", describe(&e)).into());
    }
}
