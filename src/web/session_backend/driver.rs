//! What a `SessionBackend` handle holds in the page, and how it carries out
//! its [`Handle`]'s outputs: the session's port (a keyed session's, the
//! default session's, followed alike) or a remote backend's socket, the app's promises and
//! listeners, and the client's calls it makes in Rust values. Every
//! decision is the handle's; its deadlines are served by the client's one
//! timer.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, MessagePort};

use super::super::client::driver::{Attached, ClientDriver};
use super::super::client::types::Unsubscribe;
use super::super::error::{ErrorCode, TabworkerError, describe};
use super::super::runtime::callbacks::Callbacks;
use super::super::runtime::channel::{Payload, post_channel, read_frame};
use super::super::runtime::clock::now;
use super::super::runtime::codec::to_js;
use super::super::runtime::listener::Listener;
use super::remote::RemoteLink;
use crate::channel::{CallerOutput, Change, ChannelFrame, Handle, HandleOutput, RequestError, RequestId};
use crate::model::ids::{BackendId, SessionId};
use crate::model::map::Map;
use crate::model::time::Timestamp;
use crate::tab::{CallValue, SubscriptionId};

/// A request's promise, and the abort listener it holds.
pub(super) struct Pending {
    pub(super) resolve: js_sys::Function,
    pub(super) reject: js_sys::Function,
    pub(super) abort: Option<Listener>,
}

/// One handle, in the page.
pub(super) struct Driver {
    pub(super) client: Weak<ClientDriver>,
    pub(super) handle: RefCell<Handle<Payload>>,
    /// The open session's port, with the listener that reads it.
    port: RefCell<Option<(MessagePort, Listener)>>,
    /// The keyed session opened, closed on `destroy()`.
    keyed: RefCell<Option<SessionId>>,
    /// A remote backend's status stream and socket.
    remote: RefCell<RemoteLink>,
    /// The app's event listeners, by event name.
    pub(super) events: RefCell<Callbacks>,
    /// `onStatus`, `onReady`, `onTerminated` and `onReconnect` listeners, by those names.
    pub(super) lifecycle: RefCell<Callbacks>,
    pub(super) ready_waiters: RefCell<Vec<(js_sys::Function, js_sys::Function)>>,
    pub(super) requests: RefCell<Map<RequestId, Pending>>,
    /// The backend's states, followed through the client.
    status: Cell<Option<SubscriptionId>>,
    /// The deadline last given to the client's timer.
    reported: Cell<Option<Timestamp>>,
}

pub(super) fn error(code: ErrorCode, message: impl Into<String>) -> JsValue {
    TabworkerError::new(code, message).into()
}

/// A request's failure as the app sees it: a `TabworkerError` with the
/// backend's `state` when it is known.
pub(super) fn request_error(failure: RequestError) -> JsValue {
    let js = error(failure.code, failure.message);
    if let Some(state) = failure.state.map(|s| to_js(&s)) {
        // Setting a property on a fresh Error object cannot fail.
        let _ = js_sys::Reflect::set(&js, &"state".into(), &state);
    }
    js
}

impl Driver {
    /// The page's side of `handle`, attached to `client` (its timer, its
    /// default sessions), and its first steps taken.
    pub(super) fn start(client: &Rc<ClientDriver>, handle: Handle<Payload>) -> Rc<Driver> {
        let driver = Rc::new(Driver {
            client: Rc::downgrade(client),
            handle: RefCell::new(handle),
            port: RefCell::new(None),
            keyed: RefCell::new(None),
            remote: RefCell::new(RemoteLink::default()),
            events: RefCell::default(),
            lifecycle: RefCell::default(),
            ready_waiters: RefCell::default(),
            requests: RefCell::default(),
            status: Cell::new(None),
            reported: Cell::new(None),
        });
        client.attach(driver.clone());
        driver.pump();
        driver
    }

    /// Feeds the handle one input, then carries out what it asks.
    pub(super) fn input(self: &Rc<Self>, input: impl FnOnce(&mut Handle<Payload>)) -> Option<JsValue> {
        input(&mut self.handle.borrow_mut());
        self.pump()
    }

    /// Carries out what the handle asks for, then has its client re-arm the
    /// one timer if the handle's deadline moved. The first event that could
    /// not be posted is returned (a payload that cannot be cloned); a
    /// request that could not be posted fails.
    pub(super) fn pump(self: &Rc<Self>) -> Option<JsValue> {
        let mut unsent = None;
        loop {
            let Some(output) = self.handle.borrow_mut().poll_output() else { break };
            if let Some(failure) = self.execute(output) {
                unsent = unsent.or(Some(request_error(failure)));
            }
        }
        let deadline = self.handle.borrow().poll_timeout();
        if self.reported.replace(deadline) != deadline {
            if let Some(inner) = self.client.upgrade() {
                inner.arm();
            }
        }
        unsent
    }

    fn execute(self: &Rc<Self>, output: HandleOutput<Payload>) -> Option<RequestError> {
        match output {
            HandleOutput::Watch(backend) => self.watch(&backend),
            HandleOutput::Open(url) => self.open(&url),
            HandleOutput::Connect(request) => {
                let inner = self.client.upgrade()?;
                let call = inner.tab.borrow_mut().connect(now(), request);
                let weak = Rc::downgrade(self);
                inner.then(call, move |outcome| {
                    let Some(driver) = weak.upgrade() else { return };
                    let answer = match outcome {
                        Ok(CallValue::Connected(response)) => Ok(*response),
                        Ok(_) => Err("the connect was answered with no response".to_owned()),
                        Err(refused) => Err(format!("{}: {}", refused.code, refused.detail)),
                    };
                    driver.input(|handle| handle.connected(now(), answer));
                });
            }
            HandleOutput::OpenStream(url) => {
                let weak = Rc::downgrade(self);
                let opened = self.remote.borrow_mut().open_stream(&url, move |state| {
                    if let Some(driver) = weak.upgrade() {
                        driver.input(|handle| handle.state(state));
                    }
                });
                if let Err(detail) = opened {
                    web_sys::console::warn_1(&format!("tabworker: cannot follow {url}: {detail}").into());
                }
            }
            HandleOutput::CloseStream => self.remote.borrow_mut().close_stream(),
            HandleOutput::OpenSocket(url) => self.open_socket(&url),
            HandleOutput::Detach => drop(self.port.borrow_mut().take()),
            HandleOutput::Close => self.close(),
            HandleOutput::Call(CallerOutput::Post(frame)) => return self.post(frame),
            HandleOutput::Call(CallerOutput::Settle { id, outcome }) => {
                let pending = self.requests.borrow_mut().remove(&id)?;
                let _ = match outcome {
                    Ok(payload) => pending.resolve.call1(&JsValue::NULL, &payload.value),
                    Err(failure) => pending.reject.call1(&JsValue::NULL, &request_error(failure)),
                };
            }
            HandleOutput::Call(CallerOutput::Event { name, payload }) => {
                // Taken first: a listener may add or remove listeners.
                let listeners = self.events.borrow().of(&name);
                call_each(listeners, &payload.value);
            }
            HandleOutput::Lifecycle(change) => {
                let (name, state) = match &change {
                    Change::Status(state) => ("status", state),
                    Change::Ready(state) => ("ready", state),
                    Change::Terminated(state) => ("terminated", state),
                };
                let listeners = self.lifecycle.borrow().of(name);
                call_each(listeners, &to_js(state));
            }
            HandleOutput::Reconnected(response) => {
                let listeners = self.lifecycle.borrow().of("reconnect");
                call_each(listeners, &to_js(&*response));
            }
            HandleOutput::Ready(outcome) => {
                let waiters = std::mem::take(&mut *self.ready_waiters.borrow_mut());
                for (resolve, reject) in waiters {
                    let _ = match &outcome {
                        Ok(state) => resolve.call1(&JsValue::NULL, &to_js(state)),
                        Err(failure) => reject.call1(&JsValue::NULL, &request_error(failure.clone())),
                    };
                }
            }
            HandleOutput::Warn(text) => web_sys::console::warn_1(&format!("tabworker: {text}").into()),
        }
        None
    }

    /// Posts `frame` on the open session; what could not be posted fails
    /// (a request) or is returned (an event).
    fn post(self: &Rc<Self>, frame: ChannelFrame<Payload>) -> Option<RequestError> {
        let request = match &frame {
            ChannelFrame::Request { id, .. } => Some(*id),
            _ => None,
        };
        let port = self.port.borrow().as_ref().map(|(port, _)| port.clone());
        let posted = match port {
            Some(port) => post_channel(&port, frame),
            None => self.remote.borrow().send(frame)?,
        };
        let failure = RequestError::new(ErrorCode::InvalidArgument, describe(&posted.err()?));
        match request {
            Some(id) => {
                self.handle.borrow_mut().fail(id, failure);
                None
            }
            None => Some(failure),
        }
    }

    /// Follows the states of `backend` through the client (instead of
    /// any backend followed before).
    fn watch(self: &Rc<Self>, backend: &BackendId) {
        let Some(inner) = self.client.upgrade() else { return };
        let weak = Rc::downgrade(self);
        let watched = inner.watch(
            backend.as_str(),
            Rc::new(move |state: &crate::BackendState| {
                if let Some(driver) = weak.upgrade() {
                    driver.input(|handle| handle.state(state.clone()));
                }
            }),
        );
        match watched {
            Ok(id) => {
                if let Some(old) = self.status.replace(Some(id)) {
                    inner.unwatch(old);
                }
            }
            Err(e) => web_sys::console::warn_1(&format!("tabworker: cannot follow backend {backend}: {e}").into()),
        }
    }

    /// Opens a session with the keyed backend of `url`; once open, its port
    /// is this handle's, and its end is told to the handle.
    fn open(self: &Rc<Self>, url: &str) {
        let Some(inner) = self.client.upgrade() else { return };
        let call = inner.tab.borrow_mut().open(now(), url);
        let weak = Rc::downgrade(self);
        let client = Rc::downgrade(&inner);
        inner.then(call, move |outcome| {
            let (Some(driver), Some(inner)) = (weak.upgrade(), client.upgrade()) else { return };
            match driver.take_session(&inner, outcome) {
                Ok(Some(port)) => {
                    driver.attach_port(port);
                    driver.input(Handle::opened);
                }
                Ok(None) => {}
                Err(detail) => drop(driver.input(|handle| handle.open_failed("open its session", &detail))),
            }
        });
    }

    /// The session a call to open one gave, if it is still open: its port
    /// is this handle's from now on, and its end will be told to the handle.
    /// `None`: the handle was destroyed meanwhile, and the session is closed.
    fn take_session(
        self: &Rc<Self>,
        inner: &Rc<ClientDriver>,
        outcome: Result<CallValue, crate::tab::CallError>,
    ) -> Result<Option<MessagePort>, String> {
        let session_id = match outcome {
            Ok(CallValue::Session { session_id, .. }) => session_id,
            Ok(_) => return Err("the open was answered with no session".into()),
            Err(e) => return Err(format!("{}: {}", e.code, e.detail)),
        };
        if self.handle.borrow().check_alive().is_err() {
            inner.close_session(&session_id);
            return Ok(None);
        }
        let weak = Rc::downgrade(self);
        let told = Box::new(move || {
            if let Some(driver) = weak.upgrade() {
                driver.keyed.borrow_mut().take();
                driver.input(Handle::closed);
            }
        });
        let port = inner.follow_session(&session_id, told);
        let port = port.ok_or("the session ended while it opened")?;
        *self.keyed.borrow_mut() = Some(session_id);
        Ok(Some(port))
    }

    /// Reads the session's frames from `port` from now on.
    fn attach_port(self: &Rc<Self>, port: MessagePort) {
        let weak = Rc::downgrade(self);
        let listener = Listener::new(&port, "message", move |event: MessageEvent| {
            if let Some(driver) = weak.upgrade() {
                driver.on_message(&event.data());
            }
        });
        port.start();
        *self.port.borrow_mut() = Some((port, listener));
    }

    /// A message from the backend: a channel frame, or not one of ours.
    pub(super) fn on_message(self: &Rc<Self>, data: &JsValue) {
        match read_frame(data) {
            None => {}
            Some(frame) => drop(self.input(|handle| handle.from_backend(frame.map(|f| f.map(Payload::plain))))),
        }
    }

    /// Stops listening and closes the session (the backend goes on).
    fn close(&self) {
        self.events.borrow_mut().clear();
        self.lifecycle.borrow_mut().clear();
        let inner = self.client.upgrade();
        if let (Some(id), Some(inner)) = (self.status.take(), &inner) {
            inner.unwatch(id);
        }
        self.port.borrow_mut().take();
        self.remote.borrow_mut().close();
        let session = self.keyed.borrow_mut().take();
        if let (Some(session), Some(inner)) = (session, &inner) {
            inner.close_session(&session);
        }
    }

    /// Adds `listener` to `table` under `name`; the function that removes it.
    pub(super) fn subscribe(
        self: &Rc<Self>,
        table: fn(&Driver) -> &RefCell<Callbacks>,
        name: String,
        listener: js_sys::Function,
    ) -> Unsubscribe {
        let id = table(self).borrow_mut().add(name.clone(), listener);
        let weak: Weak<Driver> = Rc::downgrade(self);
        let remove = Closure::<dyn FnMut()>::new(move || {
            if let Some(driver) = weak.upgrade() {
                table(&driver).borrow_mut().remove(&name, id);
            }
        });
        remove.into_js_value().unchecked_into()
    }

    /// Opens the remote session's socket at `url`, unless one is open.
    fn open_socket(self: &Rc<Self>, url: &str) {
        if self.remote.borrow().has_socket() {
            return;
        }
        let (opened, message, closed) = (Rc::downgrade(self), Rc::downgrade(self), Rc::downgrade(self));
        let on_open = move || {
            if let Some(driver) = opened.upgrade() {
                driver.input(Handle::opened);
            }
        };
        let on_frame = move |frame: JsValue| {
            if let Some(driver) = message.upgrade() {
                driver.on_message(&frame);
            }
        };
        let on_close = move || {
            if let Some(driver) = closed.upgrade() {
                driver.remote.borrow_mut().socket_closed();
                driver.input(|handle| handle.socket_closed(now()));
            }
        };
        let opening = self.remote.borrow_mut().open_socket(url, on_open, on_frame, on_close);
        if let Err(detail) = opening {
            web_sys::console::warn_1(&format!("tabworker: {detail}").into());
            self.input(|handle| handle.socket_closed(now()));
        }
    }
}

/// Calls each listener with `value`; one that throws is reported by the browser.
fn call_each(listeners: Vec<js_sys::Function>, value: &JsValue) {
    for listener in listeners {
        let _ = listener.call1(&JsValue::NULL, value);
    }
}

impl Attached for Driver {
    fn poll_timeout(&self) -> Option<Timestamp> {
        self.handle.borrow().poll_timeout()
    }

    fn timeout(self: Rc<Self>, now: Timestamp) {
        self.input(|handle| handle.timeout(now));
    }

    /// A default handle follows the session as a keyed one does its own:
    /// its port is read from now on, and its end is told to the handle.
    fn default_opened(self: Rc<Self>, session: &SessionId, backend: Option<BackendId>) {
        if self.handle.borrow_mut().default_opened(backend) {
            let weak = Rc::downgrade(&self);
            let told = Box::new(move || {
                if let Some(driver) = weak.upgrade() {
                    drop(driver.input(Handle::default_closed));
                }
            });
            match self.client.upgrade().and_then(|client| client.follow_session(session, told)) {
                Some(port) => self.attach_port(port),
                // It ended meanwhile.
                None => drop(self.input(Handle::default_closed)),
            }
        }
        self.pump();
    }
}

impl Drop for Driver {
    /// A handle dropped without `destroy()` (the app let go of it) closes
    /// its keyed session, so none is left open behind it.
    fn drop(&mut self) {
        self.remote.get_mut().close();
        if let (Some(session), Some(inner)) = (self.keyed.get_mut().take(), self.client.upgrade()) {
            // Later, not here: a drop may come while the client is busy.
            wasm_bindgen_futures::spawn_local(async move { inner.close_session(&session) });
        }
    }
}
