//! What a `SessionBackend` handle holds and how it follows its backend:
//! the sessions it opens or is given, the states it is told, the frames on
//! its port, and its deadlines (served by its client's one timer). Every
//! decision is its [`Caller`]'s or its
//! [`Tracker`]'s.

use crate::model::map::Map;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{CustomEvent, MessageEvent, MessagePort};

use super::super::client::{Client, Deadlines, Inner};
use super::super::error::{ErrorCode, TabworkerError, describe};
use super::super::keyed::Unsubscribe;
use super::super::runtime::callbacks::Callbacks;
use super::super::runtime::channel::{Payload, post_channel, read_frame};
use super::super::runtime::clock::now;
use super::super::runtime::codec::{from_js, to_js};
use super::super::runtime::js::{call_method, get};
use super::super::runtime::listener::Listener;
use crate::channel::{
    Caller, CallerOutput, Change, ChannelFrame, Closing, Ending, Reconnected, RequestError, RequestId, Tracker,
};
use crate::model::connect::{BackendUrl, ConnectRequest, ConnectResponse};
use crate::model::ids::BackendId;
use crate::model::status::BackendState;
use crate::model::time::Timestamp;

/// Which backend a handle follows.
pub(super) enum Target {
    /// The app's default backend: the session the client keeps with each
    /// leader's backend in turn.
    Default,
    /// A keyed backend, opened by `url`; with `request`, connected again
    /// by it when the backend is lost with its tab.
    Keyed { url: String, request: Option<ConnectRequest> },
    /// A backend in a Plane cluster, by the urls of its `ConnectResponse`.
    Remote(crate::plane::remote::Remote),
}

/// A request's promise, and the abort listener it holds.
pub(super) struct Pending {
    pub(super) resolve: js_sys::Function,
    pub(super) reject: js_sys::Function,
    pub(super) _abort: Option<Listener>,
}

pub(super) struct Shared {
    pub(super) client: Weak<Inner>,
    pub(super) target: Target,
    pub(super) caller: RefCell<Caller<Payload>>,
    pub(super) tracker: RefCell<Tracker>,
    /// How a keyed session's end is decided.
    pub(super) closing: RefCell<Closing>,
    /// The open session's port, with the listener that reads it.
    pub(super) port: RefCell<Option<(MessagePort, Listener)>>,
    /// The keyed session object, closed on `destroy()`.
    pub(super) keyed: RefCell<Option<JsValue>>,
    /// A remote backend's status stream and socket.
    pub(super) remote: RefCell<Option<RemoteLink>>,
    pub(super) events: RefCell<Callbacks>,
    /// `onStatus`, `onReady`, `onTerminated` and `onReconnect` listeners, by those names.
    pub(super) lifecycle: RefCell<Callbacks>,
    pub(super) ready_waiters: RefCell<Vec<(js_sys::Function, js_sys::Function)>>,
    pub(super) requests: RefCell<Map<RequestId, Pending>>,
    pub(super) client_listeners: RefCell<Vec<Listener>>,
    pub(super) unsubscribe_status: RefCell<Option<js_sys::Function>>,
    pub(super) destroyed: Cell<bool>,
    /// The deadline last given to the client's timer.
    pub(super) reported: Cell<Option<Timestamp>>,
}

/// What a handle on a remote backend holds (followed by `remote.rs`).
pub(super) struct RemoteLink {
    pub(super) stream: Option<(web_sys::EventSource, Listener)>,
    /// The session's socket while it is open or opening, with its listeners.
    pub(super) socket: Option<(web_sys::WebSocket, [Listener; 3])>,
    pub(super) reopen: crate::plane::remote::Reopen,
    pub(super) timer: Option<gloo_timers::callback::Timeout>,
}

pub(super) fn error(code: ErrorCode, message: impl Into<String>) -> JsValue {
    TabworkerError::new(code, message).into()
}

pub(super) fn destroyed() -> JsValue {
    error(ErrorCode::Destroyed, "this SessionBackend was destroyed")
}

/// A request's failure as the app sees it: a `TabworkerError` with the
/// backend's `state` when it is known.
pub(super) fn request_error(failure: RequestError) -> JsValue {
    let js: JsValue = TabworkerError::new(failure.code, failure.message).into();
    if let Some(state) = failure.state.map(|s| to_js(&s)) {
        // Setting a property on a fresh Error object cannot fail.
        let _ = js_sys::Reflect::set(&js, &"state".into(), &state);
    }
    js
}

pub(super) fn function(value: JsValue, what: &str) -> Result<js_sys::Function, JsValue> {
    value.dyn_into().map_err(|_| error(ErrorCode::InvalidArgument, format!("{what} must be a function")))
}

impl Shared {
    /// The default backend: its sessions are the client's.
    pub(super) fn follow_default(self: &Rc<Self>, client: &Client) {
        let inner = &client.inner;
        let weak = Rc::downgrade(self);
        let session = Listener::new(&inner.events, "session", move |event: CustomEvent| {
            if let Some(shared) = weak.upgrade() {
                shared.on_default_session(&event.detail());
            }
        });
        let weak = Rc::downgrade(self);
        let ended = Listener::new(&inner.events, "sessionend", move |_: CustomEvent| {
            if let Some(shared) = weak.upgrade() {
                shared.on_lost();
            }
        });
        *self.client_listeners.borrow_mut() = vec![session, ended];
        if let Some(current) = client.session() {
            self.on_default_session(&current.into());
        }
    }

    pub(super) fn on_default_session(self: &Rc<Self>, session: &JsValue) {
        let get = |name: &str| get(session, name);
        let (Ok(port), Some(backend)) = (get("port").dyn_into::<MessagePort>(), get("backendId").as_string()) else {
            return;
        };
        if let Ok(backend) = BackendId::try_from(backend) {
            if self.tracker.borrow_mut().follow(backend.clone()) {
                self.watch(backend.as_str());
            }
        }
        self.on_open(port);
    }

    /// A keyed backend: its states, and one session opened by `url`.
    pub(super) fn follow_keyed(self: &Rc<Self>, client: &Client, url: &str) -> Result<(), JsValue> {
        let backend = BackendUrl::parse(url).map_err(|e| error(ErrorCode::InvalidArgument, e.to_string()))?.backend_id;
        if self.tracker.borrow_mut().follow(backend.clone()) {
            self.watch(backend.as_str());
        }
        let opening = js_sys::Promise::from(JsValue::from(client.open(url.to_string())));
        let weak = Rc::downgrade(self);
        wasm_bindgen_futures::spawn_local(async move {
            let opened = JsFuture::from(opening).await;
            let Some(shared) = weak.upgrade() else {
                // The handle is gone (dropped, perhaps collected, while the session opened):
                // the session is not left open behind it.
                if let Ok(session) = opened {
                    close_keyed(&session);
                }
                return;
            };
            match opened {
                Ok(session) if !shared.destroyed.get() => shared.on_keyed_session(session),
                Ok(session) => close_keyed(&session),
                Err(refused) => {
                    let text =
                        format!("tabworker: a SessionBackend could not open its session: {}", describe(&refused));
                    web_sys::console::warn_1(&text.into());
                    let last = shared.tracker.borrow().last().cloned();
                    let ending = shared.closing.borrow_mut().failed(last);
                    shared.finish(ending);
                }
            }
        });
        Ok(())
    }

    fn on_keyed_session(self: &Rc<Self>, session: JsValue) {
        let get = |name: &str| get(&session, name);
        let Ok(port) = get("port").dyn_into::<MessagePort>() else { return };
        let closed = js_sys::Promise::resolve(&get("closed"));
        *self.keyed.borrow_mut() = Some(session);
        self.closing.borrow_mut().opened();
        self.on_open(port);
        let weak = Rc::downgrade(self);
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(closed).await;
            if let Some(shared) = weak.upgrade() {
                shared.keyed.borrow_mut().take();
                shared.on_lost();
                let ending = shared.closing.borrow_mut().closed();
                shared.finish(ending);
            }
        });
    }

    /// What follows a keyed session's end: the end of the handle, or the
    /// same key connected again.
    pub(super) fn finish(self: &Rc<Self>, ending: Option<Ending>) {
        if self.destroyed.get() {
            return;
        }
        match ending {
            None => {}
            Some(Ending::End(state)) => {
                self.caller.borrow_mut().ended(state);
                self.pump();
            }
            Some(Ending::Reconnect) => self.reconnect(),
        }
    }

    /// Connects the handle's key again; once the answer came, follows the
    /// new backend and opens a session with it, which takes what was queued.
    fn reconnect(self: &Rc<Self>) {
        let (Some(inner), Target::Keyed { request: Some(request), .. }) = (self.client.upgrade(), &self.target) else {
            return self.finish(Some(Ending::End(self.tracker.borrow().last().cloned())));
        };
        let request = to_js(request);
        let client = Client { inner };
        let connecting = js_sys::Promise::from(JsValue::from(client.connect(request.unchecked_into())));
        let weak = Rc::downgrade(self);
        wasm_bindgen_futures::spawn_local(async move {
            let answered = JsFuture::from(connecting).await;
            let Some(shared) = weak.upgrade() else { return };
            if shared.destroyed.get() {
                return;
            }
            let response = answered.and_then(|answer| {
                from_js::<ConnectResponse>(answer).map_err(|e| error(ErrorCode::Malformed, e.to_string()))
            });
            let Some(inner) = shared.client.upgrade() else { return };
            let reopened = response.and_then(|response| {
                let next = shared.closing.borrow_mut().answered(now(), &response.backend_id);
                if next == Reconnected::Follow {
                    shared.follow_keyed(&Client { inner }, &response.url)?;
                }
                Ok((next, response))
            });
            match reopened {
                Ok((Reconnected::Later, _)) => {
                    // Arms the timer for the next try.
                    shared.pump();
                }
                Ok((Reconnected::GiveUp(state), _)) => shared.finish(Some(Ending::End(state))),
                Ok((Reconnected::Follow, response)) => {
                    let event = to_js(&response);
                    // Taken first: a listener may add or remove listeners.
                    let listeners = shared.lifecycle.borrow().of("reconnect");
                    for listener in listeners {
                        let _ = listener.call1(&JsValue::NULL, &event);
                    }
                }
                Err(refused) => {
                    let text = format!("tabworker: a SessionBackend could not reconnect: {}", describe(&refused));
                    web_sys::console::warn_1(&text.into());
                    let last = shared.tracker.borrow().last().cloned();
                    let ending = shared.closing.borrow_mut().failed(last);
                    shared.finish(ending);
                }
            }
        });
    }

    /// Follows the states of `backend` (replacing an earlier subscription).
    pub(super) fn watch(self: &Rc<Self>, backend: &str) {
        let Some(inner) = self.client.upgrade() else { return };
        let weak = Rc::downgrade(self);
        let callback = Closure::<dyn FnMut(JsValue)>::new(move |state: JsValue| {
            if let (Some(shared), Ok(state)) = (weak.upgrade(), from_js::<BackendState>(state)) {
                shared.on_state(state);
            }
        });
        let client = Client { inner };
        let callback: JsValue = callback.into_js_value();
        match client.status_stream(backend.to_string(), callback.unchecked_into()) {
            Ok(unsubscribe) => {
                if let Some(old) = self.unsubscribe_status.replace(Some(unsubscribe.unchecked_into())) {
                    let _ = old.call0(&JsValue::NULL);
                }
            }
            Err(e) => web_sys::console::warn_1(&format!("tabworker: cannot follow backend {backend}: {e}").into()),
        }
    }

    pub(super) fn on_state(self: &Rc<Self>, state: BackendState) {
        let changes = self.tracker.borrow_mut().update(state);
        let backend = self.tracker.borrow().backend().cloned();
        let mut ending = None;
        for change in changes {
            if let (Change::Terminated(state), Some(backend)) = (&change, &backend) {
                // Its session is gone with it: what is sent from now on waits
                // for the next one (or fails, if none follows).
                self.on_lost();
                if !matches!(self.target, Target::Default) {
                    ending = self.closing.borrow_mut().terminated(backend.clone(), state.clone());
                }
            }
            let (name, state) = match &change {
                Change::Status(state) => ("status", state),
                Change::Ready(state) => ("ready", state),
                Change::Terminated(state) => ("terminated", state),
            };
            let js = to_js(state);
            // Taken first: a listener may add or remove listeners.
            let listeners = self.lifecycle.borrow().of(name);
            for listener in listeners {
                // A listener that throws is reported by the browser, not here.
                let _ = listener.call1(&JsValue::NULL, &js);
            }
        }
        self.settle_ready();
        self.finish(ending);
    }

    pub(super) fn settle_ready(&self) {
        let Some(outcome) = self.tracker.borrow().ready_outcome() else { return };
        let waiters = std::mem::take(&mut *self.ready_waiters.borrow_mut());
        for (resolve, reject) in waiters {
            let _ = match &outcome {
                Ok(state) => resolve.call1(&JsValue::NULL, &to_js(state)),
                Err(state) => reject.call1(&JsValue::NULL, &ended_before_ready(state)),
            };
        }
    }

    pub(super) fn on_open(self: &Rc<Self>, port: MessagePort) {
        let weak = Rc::downgrade(self);
        let listener = Listener::new(&port, "message", move |event: MessageEvent| {
            if let Some(shared) = weak.upgrade() {
                shared.on_message(&event.data());
            }
        });
        port.start();
        *self.port.borrow_mut() = Some((port, listener));
        self.caller.borrow_mut().opened();
        self.pump();
    }

    pub(super) fn on_lost(self: &Rc<Self>) {
        self.port.borrow_mut().take();
        let last = self.tracker.borrow().last().cloned();
        self.caller.borrow_mut().lost(last);
        self.pump();
    }

    pub(super) fn on_message(self: &Rc<Self>, data: &JsValue) {
        let frame = match read_frame(data) {
            None => return,
            Some(Ok(frame)) => frame,
            Some(Err(e)) => {
                return web_sys::console::warn_1(&format!("tabworker: the backend sent a bad frame: {e}").into());
            }
        };
        let frame = match frame {
            ChannelFrame::Event { name, payload } => ChannelFrame::Event { name, payload: Payload::plain(payload) },
            ChannelFrame::Result { id, payload } => ChannelFrame::Result { id, payload: Payload::plain(payload) },
            ChannelFrame::Failure { id, code, message } => ChannelFrame::Failure { id, code, message },
            ChannelFrame::Request { id, method, payload } => {
                ChannelFrame::Request { id, method, payload: Payload::plain(payload) }
            }
        };
        if let Err(e) = self.caller.borrow_mut().from_backend(frame) {
            web_sys::console::warn_1(&format!("tabworker: the backend sent a bad frame: {e}").into());
        }
        self.pump();
    }

    /// Carries out what the caller asks for, then has its client re-arm the
    /// one timer. The first
    /// event that could not be posted is returned (a payload that cannot be
    /// cloned); a request that could not be posted fails.
    pub(super) fn pump(self: &Rc<Self>) -> Option<JsValue> {
        let mut unsent = None;
        loop {
            let Some(output) = self.caller.borrow_mut().poll_output() else { break };
            match output {
                CallerOutput::Post(frame) => {
                    let request = match &frame {
                        ChannelFrame::Request { id, .. } => Some(*id),
                        _ => None,
                    };
                    let port = self.port.borrow().as_ref().map(|(port, _)| port.clone());
                    let posted = match port {
                        Some(port) => post_channel(&port, frame),
                        None => match self.send_remote(frame) {
                            Some(sent) => sent,
                            None => continue,
                        },
                    };
                    if let Err(e) = posted {
                        let failure = RequestError::new(ErrorCode::InvalidArgument, describe(&e));
                        match request {
                            Some(id) => drop(self.caller.borrow_mut().fail(id, failure)),
                            None => unsent = unsent.or(Some(request_error(failure))),
                        }
                    }
                }
                CallerOutput::Settle { id, outcome } => {
                    let Some(pending) = self.requests.borrow_mut().remove(&id) else { continue };
                    let _ = match outcome {
                        Ok(payload) => pending.resolve.call1(&JsValue::NULL, &payload.value),
                        Err(failure) => pending.reject.call1(&JsValue::NULL, &request_error(failure)),
                    };
                }
                CallerOutput::Event { name, payload } => {
                    // Taken first: a listener may add or remove listeners.
                    let listeners = self.events.borrow().of(&name);
                    for listener in listeners {
                        let _ = listener.call1(&JsValue::NULL, &payload.value);
                    }
                }
            }
        }
        // The client's timer is armed again only when this handle's deadline moved.
        let deadline = Deadlines::poll_timeout(&**self);
        if self.reported.replace(deadline) != deadline {
            if let Some(inner) = self.client.upgrade() {
                inner.arm();
            }
        }
        unsent
    }

    pub(super) fn check_alive(&self) -> Result<(), JsValue> {
        if self.destroyed.get() { Err(destroyed()) } else { Ok(()) }
    }

    /// Adds `listener` to `table` under `name`; the function that removes it.
    pub(super) fn subscribe(
        self: &Rc<Self>,
        table: fn(&Shared) -> &RefCell<Callbacks>,
        name: String,
        listener: js_sys::Function,
    ) -> Unsubscribe {
        let id = table(self).borrow_mut().add(name.clone(), listener);
        let weak: Weak<Shared> = Rc::downgrade(self);
        let remove = Closure::<dyn FnMut()>::new(move || {
            if let Some(shared) = weak.upgrade() {
                table(&shared).borrow_mut().remove(&name, id);
            }
        });
        remove.into_js_value().unchecked_into()
    }
}

pub(super) fn ended_before_ready(state: &BackendState) -> JsValue {
    let failure = RequestError {
        code: ErrorCode::BackendTerminated,
        message: format!(
            "the backend ended (reason: {}) before it was ready",
            state.termination_reason().map_or("none", |r| r.as_str())
        ),
        state: Some(state.clone()),
    };
    request_error(failure)
}

pub(super) fn close_keyed(session: &JsValue) {
    // A session object always has `close`, which does not throw.
    let _ = call_method(session, "close", &[]);
}

impl Deadlines for Shared {
    fn poll_timeout(&self) -> Option<Timestamp> {
        [self.caller.borrow().poll_timeout(), self.closing.borrow().poll_timeout()].into_iter().flatten().min()
    }

    fn timeout(self: Rc<Self>, now: Timestamp) {
        self.caller.borrow_mut().timeout(now);
        let reconnect = self.closing.borrow_mut().timeout(now);
        self.finish(reconnect);
        self.pump();
    }
}

impl Drop for Shared {
    /// A handle dropped without `destroy()` (the app let go of it) closes
    /// its keyed session, so none is left open behind it.
    fn drop(&mut self) {
        self.close_remote();
        if let Some(session) = self.keyed.get_mut().take() {
            // Later, not here: a drop may come while the client is busy.
            wasm_bindgen_futures::spawn_local(async move { close_keyed(&session) });
        }
    }
}
