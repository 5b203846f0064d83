//! The backend worker's host: it runs [`BackendHost`] in a dedicated worker
//! spawned by the leader tab, carries the leader's frames and the sessions'
//! ports, and runs the app's code ([`AppCode`]: `serveBackend`'s or a
//! `RustBackend`'s) at start, at each session and at a soft stop.

use crate::model::map::Map;
use std::cell::{RefCell, RefMut};
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DedicatedWorkerGlobalScope, MessageChannel, MessageEvent, MessagePort};

use super::super::error::{ErrorCode, TabworkerError, describe};
use super::super::runtime::channel::Payload;
use super::super::runtime::frames::{Received, post_frame, receive};
use super::super::runtime::js::random_id;
use super::super::runtime::listener::Listener;
use super::super::runtime::lock_table::LockTable;
use super::session::{BackendSession, Handlers, SessionInfo};
use crate::backend::{BackendHost, BackendOutput};
use crate::model::ids::SessionId;
use crate::model::locks::LockId;
use crate::protocol::{BackendInit, BackendToTab, LeaderToBackend, PortRequest, TabToBackend, WireMessage};

/// The app's code, as the host runs it: `serveBackend`'s argument
/// (`js_code.rs`) or a `RustBackend` (`rust_code.rs`).
pub(crate) trait AppCode {
    /// Runs the app's start with its context (`init`, and the OPFS directory
    /// `mount` or `null`): what it returned, which the host awaits if it is
    /// a promise; its error (or the promise's) ends the backend.
    fn start(&self, host: HostRef, init: Option<BackendInit>, mount: JsValue) -> Result<JsValue, String>;
    /// Gives the app `session`, which is open.
    fn opened(&self, session: &BackendSession, host: HostRef);
    /// A soft stop: the app's stop runs, then `host.stopped()`.
    fn stop(&self, host: HostRef);
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
    code: Rc<dyn AppCode>,
    handlers: Handlers,
    locks: LockTable<LockId>,
    sessions: Map<SessionId, OpenSession>,
    /// The far end of the channel opened last, on its way to the leader.
    carried: Option<MessagePort>,
    worker_id: String,
    /// Requests handled by sessions that ended.
    handled: u64,
}

/// The running backend host. It serves for as long as this value lives;
/// keep it in a module-level binding of the worker script.
#[wasm_bindgen]
pub struct BackendHandle {
    host: Rc<RefCell<Host>>,
    _message: Listener,
}

/// Serves `code` in the calling dedicated worker.
pub(super) fn serve(
    code: Rc<dyn AppCode>,
    declares_ready: bool,
    handlers: Map<String, js_sys::Function>,
) -> Result<BackendHandle, TabworkerError> {
    let scope = js_sys::global().dyn_into::<DedicatedWorkerGlobalScope>().map_err(|_| {
        TabworkerError::new(ErrorCode::InvalidArgument, "a backend must be served in a dedicated worker")
    })?;
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
        self.host().sessions()
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
        crate::channel::check_name("a method name", &method)?;
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
        self.host().broadcast(event, payload)
    }
}

impl BackendHandle {
    /// The host, as the app's code reaches it.
    pub(super) fn host(&self) -> HostRef {
        HostRef(Rc::downgrade(&self.host))
    }
}

/// The running host, as the app's code reaches it from its own calls: what
/// it asks for is carried out once that call returned.
#[derive(Clone)]
pub(crate) struct HostRef(Weak<RefCell<Host>>);

impl HostRef {
    /// Sends event `event` to every open session; a broadcast transfers nothing.
    pub(super) fn broadcast(&self, event: String, payload: JsValue) -> Result<(), TabworkerError> {
        crate::channel::check_name("an event name", &event)?;
        let Some(host) = self.0.upgrade() else { return Ok(()) };
        let sessions: Vec<BackendSession> = host.borrow().sessions.values().filter_map(|s| s.app.clone()).collect();
        for session in sessions {
            session.post_event(event.clone(), Payload::plain(payload.clone()))?;
        }
        Ok(())
    }

    /// How many sessions are open.
    pub(super) fn sessions(&self) -> usize {
        self.0.upgrade().map_or(0, |host| host.borrow().sessions.len())
    }

    /// The backend declares itself ready (`ctx.ready()`).
    pub(super) fn declare_ready(&self) {
        self.tell(BackendHost::declare_ready);
    }

    /// Whether `secret` is a `secret_token` of a connect that reached this backend.
    pub(super) fn knows_secret(&self, secret: &str) -> bool {
        self.0.upgrade().is_some_and(|host| host.borrow().core.knows_secret(secret))
    }

    /// The app's stop finished.
    pub(super) fn stopped(&self) {
        self.tell(BackendHost::stopped);
    }

    /// Tells the core something, and carries out what it asks for after the
    /// app's call that told it.
    fn tell(&self, input: fn(&mut BackendHost)) {
        let Some(host) = self.0.upgrade() else { return };
        input(&mut host.borrow_mut().core);
        wasm_bindgen_futures::spawn_local(async move { pump(&host) });
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
            BackendOutput::Stop => {
                let code = host.borrow().code.clone();
                code.stop(HostRef(Rc::downgrade(host)));
            }
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

/// Mounts the OPFS directory the backend is given (if any), runs the app's
/// start with its context, then tells the core.
fn start(host: &Rc<RefCell<Host>>, init: Option<BackendInit>) {
    let (weak, code) = (Rc::downgrade(host), host.borrow().code.clone());
    wasm_bindgen_futures::spawn_local(async move {
        let outcome = match mount(&weak, init.as_ref()).await {
            Ok(mount) => match code.start(HostRef(weak.clone()), init, mount) {
                Ok(returned) => {
                    JsFuture::from(js_sys::Promise::resolve(&returned)).await.map(drop).map_err(|e| describe(&e))
                }
                Err(detail) => Err(detail),
            },
            Err(detail) => Err(detail),
        };
        if let Some(host) = weak.upgrade() {
            if let Err(detail) = &outcome {
                web_sys::console::error_1(&format!("tabworker backend: start failed: {detail}").into());
            }
            host.borrow_mut().core.started(outcome);
            pump(&host);
        }
    });
}

/// The OPFS directory of `init`'s mount, or `null` without one.
async fn mount(host: &Weak<RefCell<Host>>, init: Option<&BackendInit>) -> Result<JsValue, String> {
    let Some((key, name)) = init.and_then(|i| i.mount.as_ref().map(|m| (&i.key, m))) else { return Ok(JsValue::NULL) };
    // The core started it once it held the mount's lock.
    let app = host.upgrade().and_then(|h| h.borrow().core.app().cloned());
    let app = app.ok_or("the backend was started without its app")?;
    super::mount::mount_directory(app.shared(), key, name)
        .await
        .map_err(|e| format!("cannot mount OPFS directory `{name}`: {e}"))
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
    let (handlers, code) = (host.borrow().handlers.clone(), host.borrow().code.clone());
    let id = info.session_id.clone();
    let session = BackendSession::new(port, info, handlers);
    if let Some(open) = host.borrow_mut().sessions.get_mut(&id) {
        open.app = Some(session.clone());
    }
    code.opened(&session, HostRef(Rc::downgrade(host)));
}
