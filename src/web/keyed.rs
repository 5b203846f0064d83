//! Keyed backends from a page: `client.connect`, `open`, `status`,
//! `statusStream`, `ready` and `terminate`, and — while the tab leads — the
//! workers of the backends it hosts.
//!
//! Every tab keeps, for each backend it watches, the states the coordinator
//! sent (the history on `watch`, then each new one), and serves `status`,
//! `statusStream`, `ready` and `terminate` from that copy: a late subscriber
//! is given the past states first, and nobody sees a state twice.

use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use web_sys::{MessageChannel, MessageEvent, MessagePort, Worker, WorkerOptions, WorkerType};

use super::client::{Client, Inner};
use super::error::{ErrorCode, TabworkerError, describe};
use super::runtime::clock::now;
use super::runtime::codec::{from_js, to_js};
use super::runtime::listener::Listener;
use super::runtime::timer::set_timeout;
use crate::model::connect::ConnectRequest;
use crate::model::ids::{BackendId, SessionId};
use crate::model::status::{BackendState, BackendStatus};
use crate::protocol::{
    BackendToLeader, BackendToTab, ConnectAnswer, ConnectOutcome, LeaderToBackend, TabToBackend, decode, frame,
};
use crate::tab::TabEvent;

#[wasm_bindgen]
extern "C" {
    /// `ConnectRequest` in TypeScript.
    #[wasm_bindgen(typescript_type = "ConnectRequest")]
    pub type ConnectRequestJs;
    /// `Promise<ConnectResponse>` in TypeScript.
    #[wasm_bindgen(typescript_type = "Promise<ConnectResponse>")]
    pub type ConnectResponsePromise;
    /// `Promise<BackendState>` in TypeScript.
    #[wasm_bindgen(typescript_type = "Promise<BackendState>")]
    pub type BackendStatePromise;
    /// `Promise<KeyedSession>` in TypeScript.
    #[wasm_bindgen(typescript_type = "Promise<KeyedSession>")]
    pub type KeyedSessionPromise;
    /// `(state: BackendState) => void` in TypeScript.
    #[wasm_bindgen(typescript_type = "(state: BackendState) => void")]
    pub type StatusCallback;
    /// `() => void` in TypeScript.
    #[wasm_bindgen(typescript_type = "() => void")]
    pub type Unsubscribe;
    /// `TerminateOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "TerminateOptions")]
    pub type TerminateOptionsJs;
}

type Settle = (js_sys::Function, js_sys::Function);

/// What a waiter waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Until {
    /// The current state, as soon as it is known.
    Current,
    /// `ready` (rejected if it ends first).
    Ready,
    /// `terminated`.
    Terminated,
}

struct Waiter {
    backend_id: BackendId,
    until: Until,
    settle: Settle,
}

struct Subscriber {
    id: u64,
    backend_id: BackendId,
    callback: js_sys::Function,
    delivered: usize,
}

/// What a connect of this tab carried that stays in this tab.
#[derive(Clone, Default)]
struct Credentials {
    user: Option<String>,
    auth: Option<serde_json::Map<String, serde_json::Value>>,
}

struct PendingOpen {
    settle: Settle,
    token: String,
    credentials: Credentials,
    /// When `open()` rejected with `timeout` (`Date.now()`): a port granted
    /// later is given back at once.
    deadline: f64,
}

struct OpenKeyed {
    backend_id: BackendId,
    /// The port the grant came with; the backend answers `open` on it.
    control: MessagePort,
    /// The app's port.
    app: MessagePort,
    /// Resolves `closed`.
    close: js_sys::Function,
    closed: Promise,
}

/// The keyed-backend state of one client.
#[derive(Default)]
pub(super) struct Keyed {
    next_id: u64,
    connects: BTreeMap<u64, (Settle, Credentials)>,
    /// The credentials of each token this tab was given, for `open(url)`.
    tokens: BTreeMap<String, Credentials>,
    /// States of watched backends; `None` until the history arrived.
    histories: BTreeMap<BackendId, Option<Vec<BackendState>>>,
    subscribers: Vec<Subscriber>,
    waiters: Vec<Waiter>,
    opens: BTreeMap<SessionId, PendingOpen>,
    /// Keyed sessions whose port arrived, with the listener for the answer to `open`.
    handshakes: BTreeMap<SessionId, Listener>,
    sessions: BTreeMap<SessionId, OpenKeyed>,
    /// The workers of the backends this tab hosts, with their listeners.
    workers: BTreeMap<BackendId, (Worker, [Listener; 2])>,
}

/// A session with a keyed backend, opened with `client.open(url)`.
#[wasm_bindgen]
pub struct KeyedSession {
    id: SessionId,
    backend_id: BackendId,
    port: MessagePort,
    closed: js_sys::Promise,
    client: Weak<Inner>,
}

#[wasm_bindgen]
impl KeyedSession {
    /// The connect attempt.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.id.to_string()
    }

    /// The backend.
    #[wasm_bindgen(getter, js_name = backendId)]
    pub fn backend_id(&self) -> String {
        self.backend_id.to_string()
    }

    /// This tab's own port to the backend; post to it and listen on it.
    #[wasm_bindgen(getter)]
    pub fn port(&self) -> MessagePort {
        self.port.clone()
    }

    /// Resolves when the session ends: `close()`, or the backend terminated.
    #[wasm_bindgen(getter)]
    pub fn closed(&self) -> super::client::VoidPromise {
        self.closed.clone().unchecked_into()
    }

    /// Ends the session: the backend sees its `closed` resolve.
    pub fn close(&self) {
        if let Some(inner) = self.client.upgrade() {
            inner.close_keyed(&self.id);
            inner.pump();
        }
    }
}

/// A subscription of `statusStream`. The app gets its `unsubscribe`, bound
/// to it, as the function `statusStream` returns.
#[wasm_bindgen]
pub struct StatusSubscription {
    id: u64,
    client: Weak<Inner>,
}

#[wasm_bindgen]
impl StatusSubscription {
    /// Stops the callback.
    pub fn unsubscribe(&self) {
        if let Some(inner) = self.client.upgrade() {
            inner.keyed.borrow_mut().subscribers.retain(|s| s.id != self.id);
        }
    }
}

#[wasm_bindgen]
impl Client {
    /// Asks the leader for a backend by key (the seed's `connect`). Resolves
    /// with the `ConnectResponse`; rejects with a `TabworkerError` whose
    /// `code` says why (`key-not-held`, `tag-mismatch`, `unknown-tag`,
    /// `unsupported-resource-limit`, `invalid-key`, `timeout`, …). `user` and
    /// `auth` stay in this tab until it opens a session with the response's
    /// `url`.
    pub fn connect(&self, request: ConnectRequestJs) -> ConnectResponsePromise {
        let inner = &self.inner;
        let request: ConnectRequest = match from_js(request.into()) {
            Ok(request) => request,
            Err(e) => {
                return rejected(ErrorCode::InvalidArgument, format!("invalid ConnectRequest: {e}")).unchecked_into();
            }
        };
        let credentials = Credentials { user: request.user.clone(), auth: request.auth.clone() };
        let id = inner.keyed.borrow_mut().take_id();
        if !inner.tab.borrow_mut().connect(id, request) {
            return not_joined().unchecked_into();
        }
        let promise = inner.pending(|settle| {
            inner.keyed.borrow_mut().connects.insert(id, (settle, credentials));
        });
        inner.pump();
        promise.unchecked_into()
    }

    /// Opens a session with a keyed backend: `url` is a `ConnectResponse`'s
    /// `url`. The connect's `user` and `auth` (if this tab made it) go to the
    /// backend with the session, straight from this tab.
    pub fn open(&self, url: String) -> KeyedSessionPromise {
        let inner = &self.inner;
        let (backend_id, token) = match parse_url(&url) {
            Ok((backend_id, Some(token))) => (backend_id, token),
            Ok(_) => {
                return rejected(ErrorCode::InvalidArgument, format!("`{url}` is not a session url")).unchecked_into();
            }
            Err(e) => return Promise::reject(&e.into()).unchecked_into(),
        };
        if !inner.tab.borrow().is_joined() {
            return not_joined().unchecked_into();
        }
        let credentials = inner.keyed.borrow().tokens.get(&token).cloned().unwrap_or_default();
        let session_id = inner.tab.borrow_mut().open_session(backend_id);
        let deadline = js_sys::Date::now() + f64::from(inner.options.connect_timeout_ms);
        let promise = inner.pending(|settle| {
            let open = PendingOpen { settle, token, credentials, deadline };
            inner.keyed.borrow_mut().opens.insert(session_id, open);
        });
        inner.pump();
        promise.unchecked_into()
    }

    /// The current state of a backend (`backend`: its id or its
    /// `status_url`). Rejects with `unknown-backend` if none is known.
    pub fn status(&self, backend: String) -> BackendStatePromise {
        self.wait(&backend, Until::Current, None)
    }

    /// Resolves when the backend (`backend`: its id or its `ready_url`) is
    /// ready; rejects with `backend-terminated` if it ends first.
    pub fn ready(&self, backend: String) -> BackendStatePromise {
        self.wait(&backend, Until::Ready, None)
    }

    /// Stops a backend (`backend`: its id) from any tab, with reason
    /// `external`: soft by default (its `stop` runs, within
    /// `terminationGraceMs`), at once with `{ hard: true }`. Resolves with
    /// its `terminated` state.
    pub fn terminate(&self, backend: String, options: Option<TerminateOptionsJs>) -> BackendStatePromise {
        let hard = options
            .and_then(|o| js_sys::Reflect::get(&o, &"hard".into()).ok())
            .and_then(|h| h.as_bool())
            .unwrap_or(false);
        self.wait(&backend, Until::Terminated, Some(hard))
    }

    /// Calls `callback` with every state of a backend (`backend`: its id or
    /// its `status_url`) once, in order: the past ones first, then each new
    /// one. Returns the function that stops it.
    #[wasm_bindgen(js_name = statusStream)]
    pub fn status_stream(&self, backend: String, callback: StatusCallback) -> Result<Unsubscribe, TabworkerError> {
        let inner = &self.inner;
        let (backend_id, _) = parse_url(&backend)?;
        let callback: js_sys::Function = callback.dyn_into().map_err(|_| {
            TabworkerError::new(ErrorCode::InvalidArgument, "statusStream(backend, callback) needs a function")
        })?;
        if !inner.tab.borrow().is_joined() {
            return Err(TabworkerError::new(ErrorCode::NotInitialized, "call initialize() first"));
        }
        let id = {
            let mut keyed = inner.keyed.borrow_mut();
            let id = keyed.take_id();
            keyed.subscribers.push(Subscriber { id, backend_id: backend_id.clone(), callback, delivered: 0 });
            id
        };
        inner.watch(&backend_id);
        inner.deliver(&backend_id);
        inner.pump();
        let subscription = JsValue::from(StatusSubscription { id, client: Rc::downgrade(inner) });
        let unsubscribe: js_sys::Function = js_sys::Reflect::get(&subscription, &"unsubscribe".into())
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or_else(|| TabworkerError::new(ErrorCode::InvalidArgument, "no unsubscribe method"))?;
        Ok(unsubscribe.bind0(&subscription).unchecked_into())
    }

    fn wait(&self, backend: &str, until: Until, terminate: Option<bool>) -> BackendStatePromise {
        let inner = &self.inner;
        let backend_id = match parse_url(backend) {
            Ok((backend_id, _)) => backend_id,
            Err(e) => return Promise::reject(&e.into()).unchecked_into(),
        };
        if !inner.tab.borrow().is_joined() {
            return not_joined().unchecked_into();
        }
        let promise = js_sys::Promise::new(&mut |resolve, reject| {
            let waiter = Waiter { backend_id: backend_id.clone(), until, settle: (resolve, reject) };
            inner.keyed.borrow_mut().waiters.push(waiter);
        });
        inner.watch(&backend_id);
        if let Some(hard) = terminate {
            inner.tab.borrow_mut().terminate_backend(backend_id.clone(), hard);
        }
        inner.deliver(&backend_id);
        inner.pump();
        promise.unchecked_into()
    }
}

fn rejected(code: ErrorCode, message: impl Into<String>) -> Promise {
    Promise::reject(&TabworkerError::new(code, message).into())
}

fn not_joined() -> Promise {
    rejected(ErrorCode::NotInitialized, "call initialize() first (or the client was destroyed)")
}

/// A backend id, or a `tabworker://<app>/backends/<id>/…` url: the backend,
/// and the token of a session url.
fn parse_url(text: &str) -> Result<(BackendId, Option<String>), TabworkerError> {
    let invalid = |what: &str| TabworkerError::new(ErrorCode::InvalidArgument, format!("`{text}`: {what}"));
    let Some(rest) = text.strip_prefix("tabworker://") else {
        return BackendId::new(text).map(|id| (id, None)).map_err(|e| invalid(&e.to_string()));
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let at = parts.iter().rposition(|p| *p == "backends").ok_or_else(|| invalid("no `/backends/<id>` in the url"))?;
    let id = parts.get(at + 1).ok_or_else(|| invalid("no backend id"))?;
    let backend_id = BackendId::new(*id).map_err(|e| invalid(&e.to_string()))?;
    let token = match &parts[at + 2..] {
        ["sessions", token] if !token.is_empty() => Some((*token).to_owned()),
        ["status" | "ready"] | [] => None,
        _ => return Err(invalid("not a url of a ConnectResponse")),
    };
    Ok((backend_id, token))
}

impl Keyed {
    fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

impl Inner {
    /// A promise whose settle functions `store` keeps, rejected with
    /// `timeout` after `connectTimeoutMs`.
    fn pending(&self, store: impl FnOnce(Settle)) -> Promise {
        let timeout_ms = f64::from(self.options.connect_timeout_ms);
        let mut slot = None;
        let promise = Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
        if let Some((resolve, reject)) = slot {
            let error = TabworkerError::new(ErrorCode::Timeout, format!("no answer within {timeout_ms} ms"));
            // Settling a settled promise does nothing: the later of the two is a no-op.
            let bound: js_sys::Function = reject.bind1(&JsValue::NULL, &error.into()).unchecked_into();
            set_timeout(&bound, timeout_ms);
            store((resolve, reject));
        }
        promise
    }

    /// Asks for the history of `backend_id`, once.
    fn watch(&self, backend_id: &BackendId) {
        let mut keyed = self.keyed.borrow_mut();
        if !keyed.histories.contains_key(backend_id) {
            keyed.histories.insert(backend_id.clone(), None);
            drop(keyed);
            self.tab.borrow_mut().watch(backend_id.clone());
        }
    }

    /// A keyed-backend event of the tab.
    pub(super) fn on_keyed_event(self: &Rc<Self>, event: TabEvent) {
        match event {
            TabEvent::Answered(answer) => self.answered(*answer),
            TabEvent::History { backend_id, states } => {
                {
                    let mut keyed = self.keyed.borrow_mut();
                    let known = keyed.histories.get(&backend_id).and_then(Option::as_ref).map_or(0, Vec::len);
                    if states.is_empty() {
                        // Unknown: forget it, so that a later call asks again.
                        keyed.histories.remove(&backend_id);
                    } else if states.len() >= known {
                        keyed.histories.insert(backend_id.clone(), Some(states));
                    }
                }
                self.deliver(&backend_id);
            }
            TabEvent::Status { backend_id, state } => {
                {
                    let mut keyed = self.keyed.borrow_mut();
                    if let Some(Some(states)) = keyed.histories.get_mut(&backend_id) {
                        if states.last().is_none_or(|last| last.status() < state.status()) {
                            states.push(state);
                        }
                    }
                }
                self.deliver(&backend_id);
            }
            TabEvent::KeyedSession { session_id, backend_id } => self.granted(session_id, backend_id),
            TabEvent::KeyedRefused { session_id, code, detail } => {
                let open = self.keyed.borrow_mut().opens.remove(&session_id);
                if let Some(open) = open {
                    let _ = open.settle.1.call1(&JsValue::NULL, &TabworkerError::new(code, detail).into());
                }
            }
            _ => {}
        }
    }

    fn answered(self: &Rc<Self>, answer: ConnectAnswer) {
        let Some((settle, credentials)) = self.keyed.borrow_mut().connects.remove(&answer.request_id) else { return };
        match answer.outcome {
            ConnectOutcome::Response(response) => {
                self.keyed.borrow_mut().tokens.insert(response.token.clone(), credentials);
                self.watch(&response.backend_id);
                match to_js(&response) {
                    Ok(value) => drop(settle.0.call1(&JsValue::NULL, &value)),
                    Err(e) => drop(settle.1.call1(&JsValue::NULL, &JsValue::from_str(&e.to_string()))),
                }
            }
            ConnectOutcome::Refused { code, detail } => {
                let _ = settle.1.call1(&JsValue::NULL, &TabworkerError::new(code, detail).into());
            }
        }
    }

    /// Gives every subscriber and waiter of `backend_id` what it has not
    /// seen. JavaScript is called only once nothing is borrowed.
    fn deliver(self: &Rc<Self>, backend_id: &BackendId) {
        let mut calls: Vec<(js_sys::Function, JsValue)> = Vec::new();
        let closing;
        {
            let mut keyed = self.keyed.borrow_mut();
            let Keyed { histories, subscribers, waiters, .. } = &mut *keyed;
            let states = match histories.get(backend_id) {
                Some(Some(states)) => states.as_slice(),
                Some(None) => return,
                // Not known to the coordinator: what waits for it is refused.
                None => &[],
            };
            for subscriber in subscribers.iter_mut().filter(|s| s.backend_id == *backend_id) {
                for state in &states[subscriber.delivered..] {
                    calls.extend(to_js(state).ok().map(|v| (subscriber.callback.clone(), v)));
                }
                subscriber.delivered = states.len();
            }
            let last = states.last();
            let ready = states.iter().find(|s| s.status() == BackendStatus::Ready);
            let ended = last.filter(|s| s.status() == BackendStatus::Terminated);
            closing = ended.is_some();
            waiters.retain(|waiter| {
                if waiter.backend_id != *backend_id {
                    return true;
                }
                let outcome = match (waiter.until, last) {
                    (_, None) => Err(TabworkerError::new(
                        ErrorCode::UnknownBackend,
                        format!("no backend `{backend_id}` is known"),
                    )),
                    (Until::Current, Some(state)) => Ok(state),
                    (Until::Ready, _) => match (ready, ended) {
                        (Some(state), _) => Ok(state),
                        (None, Some(state)) => Err(TabworkerError::new(
                            ErrorCode::BackendTerminated,
                            format!("the backend `{backend_id}` ended before it was ready ({state:?})"),
                        )),
                        (None, None) => return true,
                    },
                    (Until::Terminated, _) => match ended {
                        Some(state) => Ok(state),
                        None => return true,
                    },
                };
                match outcome {
                    Ok(state) => calls.extend(to_js(state).ok().map(|v| (waiter.settle.0.clone(), v))),
                    Err(error) => calls.push((waiter.settle.1.clone(), error.into())),
                }
                false
            });
        }
        if closing {
            let ended: Vec<SessionId> = self
                .keyed
                .borrow()
                .sessions
                .iter()
                .filter(|(_, s)| s.backend_id == *backend_id)
                .map(|(id, _)| id.clone())
                .collect();
            for session_id in ended {
                self.close_keyed(&session_id);
            }
        }
        for (function, value) in calls {
            // A callback that throws is reported by the browser, not here.
            let _ = function.call1(&JsValue::NULL, &value);
        }
    }

    /// The port of a keyed session arrived (it is `carried`): hand the
    /// backend the app's end of a new channel, with the connect's token and
    /// credentials, and wait for its answer.
    fn granted(self: &Rc<Self>, session_id: SessionId, backend_id: BackendId) {
        let control = self.state.borrow_mut().carried.take();
        let open = self.keyed.borrow_mut().opens.remove(&session_id).filter(|o| js_sys::Date::now() <= o.deadline);
        let (control, open, channel) = match (control, open, MessageChannel::new()) {
            (Some(control), Some(open), Ok(channel)) => (control, open, channel),
            (control, _, _) => {
                // Nobody waits for it any more (it timed out): the session is given back.
                if let Some(control) = control {
                    control.close();
                }
                self.tab.borrow_mut().close_session(&session_id);
                return;
            }
        };
        let mut slot = None;
        let closed = Promise::new(&mut |resolve, _| slot = Some(resolve));
        // The executor runs at once: the slot is filled.
        let Some(close) = slot else { return };
        let weak = Rc::downgrade(self);
        let (id, settle) = (session_id.clone(), open.settle.clone());
        let listener = Listener::new(&control, "message", move |event: MessageEvent| {
            let Some(inner) = weak.upgrade() else { return };
            inner.keyed.borrow_mut().handshakes.remove(&id);
            let refused = match decode::<BackendToTab>(&event.data(), event.ports().length() as usize) {
                Ok(BackendToTab::Opened) => None,
                Ok(BackendToTab::Refused { code, detail }) => Some(TabworkerError::new(code, detail)),
                Err(e) => Some(TabworkerError::new(e.code(), format!("the backend's answer: {e}"))),
            };
            let outcome = match refused {
                None => inner.opened(&id).ok_or_else(|| {
                    TabworkerError::new(ErrorCode::BackendTerminated, "the session ended while it opened")
                }),
                Some(error) => Err(error),
            };
            match outcome {
                Ok(session) => drop(settle.0.call1(&JsValue::NULL, &session)),
                Err(error) => {
                    inner.close_keyed(&id);
                    inner.pump();
                    let _ = settle.1.call1(&JsValue::NULL, &error.into());
                }
            }
        });
        control.start();
        let message =
            TabToBackend::Open { token: open.token, user: open.credentials.user, auth: open.credentials.auth };
        let transfer = js_sys::Array::of1(&channel.port2());
        let sent = to_js(&frame(&message))
            .map_err(|e| JsValue::from_str(&e.to_string()))
            .and_then(|data| control.post_message_with_transferable(&data, &transfer));
        let session = OpenKeyed { backend_id, control, app: channel.port1(), close, closed };
        let mut keyed = self.keyed.borrow_mut();
        keyed.sessions.insert(session_id.clone(), session);
        keyed.handshakes.insert(session_id.clone(), listener);
        drop(keyed);
        if let Err(e) = sent {
            self.close_keyed(&session_id);
            let _ = open.settle.1.call1(&JsValue::NULL, &TabworkerError::new(ErrorCode::BadToken, describe(&e)).into());
        }
    }

    /// The backend accepted the session: the app's `KeyedSession`.
    fn opened(self: &Rc<Self>, session_id: &SessionId) -> Option<JsValue> {
        let keyed = self.keyed.borrow();
        let session = keyed.sessions.get(session_id)?;
        Some(JsValue::from(KeyedSession {
            id: session_id.clone(),
            backend_id: session.backend_id.clone(),
            port: session.app.clone(),
            closed: session.closed.clone(),
            client: Rc::downgrade(self),
        }))
    }

    /// Ends a keyed session: its lock is released (the backend closes it),
    /// its ports closed, its `closed` resolved.
    pub(super) fn close_keyed(&self, session_id: &SessionId) {
        self.tab.borrow_mut().close_session(session_id);
        let ended = {
            let mut keyed = self.keyed.borrow_mut();
            keyed.handshakes.remove(session_id);
            keyed.sessions.remove(session_id)
        };
        if let Some(session) = ended {
            session.control.close();
            session.app.close();
            let _ = session.close.call0(&JsValue::NULL);
        }
    }

    /// Creates the worker of a keyed backend this tab hosts.
    pub(super) fn spawn_worker(self: &Rc<Self>, backend_id: BackendId, tag: Option<String>) {
        let url = match &tag {
            Some(tag) => self.options.backends.get(tag).cloned(),
            None => Some(self.options.backend.clone()),
        };
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        options.set_name(&format!("{}:backend:{backend_id}", self.names.coordinator()));
        let created = url
            .ok_or_else(|| format!("no script for tag {tag:?}"))
            .and_then(|url| Worker::new_with_options(&url, &options).map_err(|e| describe(&e)));
        let worker = match created {
            Ok(worker) => worker,
            Err(detail) => {
                web_sys::console::warn_1(&format!("tabworker client: backend `{backend_id}`: {detail}").into());
                self.tab.borrow_mut().worker_error(now(), &backend_id);
                return;
            }
        };
        let (weak, id) = (Rc::downgrade(self), backend_id.clone());
        let on_message = Listener::new(&worker, "message", move |event: MessageEvent| {
            let Some(inner) = weak.upgrade() else { return };
            let ports = event.ports();
            let message = decode::<BackendToLeader>(&event.data(), ports.length() as usize);
            inner.state.borrow_mut().carried = ports.get(0).dyn_into::<MessagePort>().ok();
            inner.tab.borrow_mut().from_worker(now(), &id, message);
            inner.pump();
        });
        let (weak, id) = (Rc::downgrade(self), backend_id.clone());
        let on_error = Listener::new(&worker, "error", move |event: web_sys::Event| {
            let Some(inner) = weak.upgrade() else { return };
            let detail = match event.dyn_ref::<web_sys::ErrorEvent>() {
                Some(error) => error.message(),
                None => "the script failed to load".to_owned(),
            };
            web_sys::console::warn_1(&format!("tabworker client: backend `{id}` failed: {detail}").into());
            inner.tab.borrow_mut().worker_error(now(), &id);
            inner.pump();
        });
        self.keyed.borrow_mut().workers.insert(backend_id, (worker, [on_message, on_error]));
    }

    /// Posts to the worker of a keyed backend this tab hosts.
    pub(super) fn to_worker(&self, backend_id: &BackendId, message: &LeaderToBackend) {
        let worker = self.keyed.borrow().workers.get(backend_id).map(|(w, _)| w.clone());
        if let (Some(worker), Ok(data)) = (worker, to_js(&frame(message))) {
            if let Err(e) = worker.post_message(&data) {
                web_sys::console::warn_2(&"tabworker client: postMessage to a backend failed".into(), &e);
            }
        }
    }

    /// `terminate()`s the worker of a keyed backend.
    pub(super) fn kill_worker(&self, backend_id: &BackendId) {
        if let Some((worker, _listeners)) = self.keyed.borrow_mut().workers.remove(backend_id) {
            worker.terminate();
        }
    }

    /// The client was destroyed: everything pending is refused, every
    /// session and worker ended.
    pub(super) fn shut_down_keyed(&self) {
        let error: JsValue = TabworkerError::new(ErrorCode::NotInitialized, "the client was destroyed").into();
        let keyed = std::mem::take(&mut *self.keyed.borrow_mut());
        let rejects = keyed
            .connects
            .into_values()
            .map(|(settle, _)| settle.1)
            .chain(keyed.opens.into_values().map(|o| o.settle.1))
            .chain(keyed.waiters.into_iter().map(|w| w.settle.1));
        for reject in rejects {
            let _ = reject.call1(&JsValue::NULL, &error);
        }
        for session in keyed.sessions.into_values() {
            session.control.close();
            session.app.close();
            let _ = session.close.call0(&JsValue::NULL);
        }
        for (worker, _) in keyed.workers.into_values() {
            worker.terminate();
        }
    }
}
