//! Keyed backends from a page: `client.connect`, `open`, `status`,
//! `statusStream`, `ready` and `terminate`, and — while the tab leads — the
//! workers of the backends it hosts.
//!
//! The tab's core decides every call's outcome and when: each call is a
//! `CallId` that a `TabEvent::Settled` settles once, each `statusStream` a
//! `SubscriptionId` that `TabEvent::StatusUpdate`s feed, and the core's
//! deadlines are among those the client's one timer is armed to. This layer
//! hands the app's calls to the tab, opens and closes the ports of keyed
//! sessions and creates the workers when the tab says so, holding them in
//! the client's [`tables`](super::tables), and converts values to and from
//! JavaScript.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use web_sys::{MessageChannel, MessageEvent, MessagePort};

use super::client::{Client, Inner};
use super::error::{ErrorCode, TabworkerError, describe};
use super::runtime::clock::now;
use super::runtime::codec::{from_js, to_js};
use super::runtime::frames::{Received, post_frame, receive};
use super::runtime::listener::Listener;
use super::tables::{HostedWorker, Ports, Route};
use super::workers::WorkerSource;
use crate::model::connect::ConnectRequest;
use crate::model::ids::{BackendId, SessionId};
use crate::protocol::{BackendToLeader, BackendToTab, LeaderToBackend, TabToBackend};
use crate::tab::{CallValue, SubscriptionId};

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
            inner.tab.borrow_mut().close_session(&self.id);
            inner.pump();
        }
    }
}

/// A subscription of `statusStream`. The app gets its `unsubscribe`, bound
/// to it, as the function `statusStream` returns.
#[wasm_bindgen]
pub struct StatusSubscription {
    id: SubscriptionId,
    client: Weak<Inner>,
}

#[wasm_bindgen]
impl StatusSubscription {
    /// Stops the callback.
    pub fn unsubscribe(&self) {
        if let Some(inner) = self.client.upgrade() {
            inner.unwatch(self.id);
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
        let request: ConnectRequest = match from_js(request.into()) {
            Ok(request) => request,
            Err(e) => {
                let error = TabworkerError::new(ErrorCode::InvalidArgument, format!("invalid ConnectRequest: {e}"));
                return Promise::reject(&error.into()).unchecked_into();
            }
        };
        let call = self.inner.tab.borrow_mut().connect(now(), request);
        self.inner.promise(call).unchecked_into()
    }

    /// Opens a session with a keyed backend: `url` is a `ConnectResponse`'s
    /// `url`. The connect's `user` and `auth` (if this tab made it) go to the
    /// backend with the session, straight from this tab.
    pub fn open(&self, url: String) -> KeyedSessionPromise {
        let call = self.inner.tab.borrow_mut().open(now(), &url);
        self.inner.promise(call).unchecked_into()
    }

    /// The current state of a backend (`backend`: its id or its
    /// `status_url`). Rejects with `unknown-backend` if none is known.
    pub fn status(&self, backend: String) -> BackendStatePromise {
        let call = self.inner.tab.borrow_mut().status(&backend);
        self.inner.promise(call).unchecked_into()
    }

    /// Resolves when the backend (`backend`: its id or its `ready_url`) is
    /// ready; rejects with `backend-terminated` if it ends first.
    pub fn ready(&self, backend: String) -> BackendStatePromise {
        let call = self.inner.tab.borrow_mut().ready(&backend);
        self.inner.promise(call).unchecked_into()
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
        let call = self.inner.tab.borrow_mut().terminate(&backend, hard);
        self.inner.promise(call).unchecked_into()
    }

    /// Calls `callback` with every state of a backend (`backend`: its id or
    /// its `status_url`) once, in order: the past ones first, then each new
    /// one. Returns the function that stops it.
    #[wasm_bindgen(js_name = statusStream)]
    pub fn status_stream(&self, backend: String, callback: StatusCallback) -> Result<Unsubscribe, TabworkerError> {
        let inner = &self.inner;
        let callback: js_sys::Function = callback.dyn_into().map_err(|_| {
            TabworkerError::new(ErrorCode::InvalidArgument, "statusStream(backend, callback) needs a function")
        })?;
        let id = inner.watch(&backend, Rc::new(move |state| drop(callback.call1(&JsValue::NULL, &to_js(state)))))?;
        let subscription = JsValue::from(StatusSubscription { id, client: Rc::downgrade(inner) });
        let unsubscribe: js_sys::Function = js_sys::Reflect::get(&subscription, &"unsubscribe".into())
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or_else(|| TabworkerError::new(ErrorCode::InvalidArgument, "no unsubscribe method"))?;
        Ok(unsubscribe.bind0(&subscription).unchecked_into())
    }
}

impl Inner {
    /// Calls `callback` with every state of `backend` (its id or its
    /// `status_url`) once, in order, from now on; its subscription.
    pub(super) fn watch(
        self: &Rc<Self>,
        backend: &str,
        callback: super::tables::StatusCallback,
    ) -> Result<SubscriptionId, TabworkerError> {
        let id = self.tab.borrow_mut().subscribe(backend).map_err(TabworkerError::from)?;
        self.keyed.borrow_mut().subscriptions.insert(id, callback);
        self.pump();
        Ok(id)
    }

    /// Stops subscription `id`.
    pub(super) fn unwatch(&self, id: SubscriptionId) {
        self.tab.borrow_mut().unsubscribe(id);
        self.keyed.borrow_mut().subscriptions.remove(&id);
    }

    /// Gives `statusStream` subscription `subscription` its next state.
    pub(super) fn status_update(&self, subscription: SubscriptionId, state: &crate::BackendState) {
        let callback = self.keyed.borrow().subscriptions.get(&subscription).cloned();
        if let Some(callback) = callback {
            // A JavaScript callback that throws is reported by the browser, not here.
            callback(state);
        }
    }

    /// A call's value, as JavaScript sees it (a keyed session's from the
    /// ports held for it).
    pub(super) fn js_value(self: &Rc<Self>, value: CallValue) -> Result<JsValue, JsValue> {
        match value {
            CallValue::Joined => Ok(JsValue::UNDEFINED),
            CallValue::Connected(response) => Ok(to_js(&*response)),
            CallValue::State(state) => Ok(to_js(&state)),
            CallValue::Session { session_id, backend_id } => {
                let keyed = self.keyed.borrow();
                let ports = keyed.sessions.get(&session_id).ok_or_else(|| {
                    TabworkerError::new(ErrorCode::BackendTerminated, "the session ended while it opened")
                })?;
                let (port, closed) = (ports.app.clone(), ports.closed.clone());
                let session = KeyedSession { id: session_id, backend_id, port, closed, client: Rc::downgrade(self) };
                Ok(session.into())
            }
        }
    }

    /// The port of keyed session `session_id` came with the input (it is
    /// `carried`): post `message` on it with the app's end of a new channel,
    /// and pass the backend's answers to the tab.
    pub(super) fn open_keyed(self: &Rc<Self>, session_id: SessionId, message: TabToBackend) {
        let control = self.state.borrow_mut().carried.take();
        let (control, channel) = match (control, MessageChannel::new()) {
            (Some(control), Ok(channel)) => (control, channel),
            (control, channel) => {
                if let Some(control) = control {
                    control.close();
                }
                let detail = channel.err().map_or_else(|| "no port came with the grant".to_owned(), |e| describe(&e));
                return self.tab.borrow_mut().open_unsent(&session_id, detail);
            }
        };
        let mut slot = None;
        let closed = Promise::new(&mut |resolve, _| slot = Some(resolve));
        // The executor runs at once: the slot is filled.
        let Some(close) = slot else { return };
        let (weak, id) = (Rc::downgrade(self), session_id.clone());
        let answers = Listener::new(&control, "message", move |event: MessageEvent| {
            let Some(inner) = weak.upgrade() else { return };
            let Received { message, .. } = receive::<BackendToTab>("client", "a backend", &event);
            inner.tab.borrow_mut().open_answered(&id, message);
            inner.pump();
        });
        control.start();
        let sent = post_frame("client", &control, &message, Some(&channel.port2()));
        let ports = Ports { control, app: channel.port1(), close, closed, answers, on_close: Vec::new() };
        self.keyed.borrow_mut().sessions.insert(session_id.clone(), ports);
        if !sent {
            let detail = "`open` could not be posted on the session's port (the console says why)";
            self.tab.borrow_mut().open_unsent(&session_id, detail.into());
        }
    }

    /// Closes the ports of a keyed session and resolves its `closed`.
    pub(super) fn close_keyed(&self, session_id: &SessionId) {
        let ended = self.keyed.borrow_mut().sessions.remove(session_id);
        if let Some(ports) = ended {
            ports.close();
        }
    }

    /// Creates the worker of a backend this tab hosts: its own (the default
    /// backend, `tag` none) or a keyed backend's.
    pub(super) fn spawn_worker(self: &Rc<Self>, backend_id: BackendId, tag: Option<String>) {
        let source = match &tag {
            Some(tag) => self.options.backends.get(tag).cloned(),
            None => Some(self.options.backend.clone()),
        };
        let name = format!("{}:backend:{backend_id}", self.names.coordinator());
        let route = Rc::new(RefCell::new(Some(backend_id.clone())));
        let started = source
            .ok_or_else(|| format!("no script for tag `{}`", tag.as_deref().unwrap_or_default()))
            .and_then(|s| self.start_worker(&s, &name, route));
        match started {
            Ok((worker, listeners, _)) => {
                self.keyed.borrow_mut().workers.insert(backend_id, (worker, listeners));
            }
            Err(detail) => {
                web_sys::console::warn_1(&format!("tabworker client: backend `{backend_id}`: {detail}").into());
                self.tab.borrow_mut().worker_error(now(), &backend_id, detail);
            }
        }
    }

    /// Creates the standby worker: the default backend script, loaded and
    /// waiting for an `init` it gets only if this tab comes to lead.
    pub(super) fn spawn_standby(self: &Rc<Self>) {
        let name = format!("{}:backend:standby", self.names.coordinator());
        match self.start_worker(&self.options.backend, &name, Rc::new(RefCell::new(None))) {
            Ok(standby) => self.keyed.borrow_mut().standby = Some(standby),
            Err(detail) => {
                web_sys::console::warn_1(&format!("tabworker client: the standby worker: {detail}").into());
                self.tab.borrow_mut().standby_error();
            }
        }
    }

    /// The standby worker becomes the worker of the default backend `backend_id`.
    pub(super) fn adopt_standby(self: &Rc<Self>, backend_id: BackendId) {
        let standby = self.keyed.borrow_mut().standby.take();
        let Some((worker, listeners, route)) = standby else {
            let detail = "the standby worker is gone".to_owned();
            return self.tab.borrow_mut().worker_error(now(), &backend_id, detail);
        };
        *route.borrow_mut() = Some(backend_id.clone());
        self.keyed.borrow_mut().workers.insert(backend_id, (worker, listeners));
    }

    /// `terminate()`s the standby worker.
    pub(super) fn kill_standby(&self) {
        if let Some((worker, ..)) = self.keyed.borrow_mut().standby.take() {
            worker.terminate();
        }
    }

    /// Creates a worker named `name` from `source`, whose frames and failure
    /// go to the tab as those of the backend `route` names, or of the
    /// standby while it names none.
    fn start_worker(self: &Rc<Self>, source: &WorkerSource, name: &str, route: Route) -> Result<HostedWorker, String> {
        let worker = source.worker(name)?;
        let (weak, to) = (Rc::downgrade(self), route.clone());
        let target = worker.clone();
        let on_message = Listener::new(&worker, "message", move |event: MessageEvent| {
            let Some(inner) = weak.upgrade() else { return };
            if inner.keyed.borrow_mut().module.handle(&target, &event.data()) {
                return;
            }
            let Received { message, port } = receive::<BackendToLeader>("client", "a backend", &event);
            inner.state.borrow_mut().carried = port;
            let id = to.borrow().clone();
            match id {
                Some(id) => inner.tab.borrow_mut().from_worker(now(), &id, message),
                None => inner.tab.borrow_mut().from_standby(message),
            }
            inner.pump();
        });
        let (weak, to) = (Rc::downgrade(self), route.clone());
        let on_error = Listener::new(&worker, "error", move |event: web_sys::Event| {
            let Some(inner) = weak.upgrade() else { return };
            let detail = match event.dyn_ref::<web_sys::ErrorEvent>() {
                Some(error) => error.message(),
                None => "the script failed to load".to_owned(),
            };
            let id = to.borrow().clone();
            web_sys::console::warn_1(
                &format!(
                    "tabworker client: backend `{}` failed: {detail}",
                    id.as_ref().map_or("standby", |id| id.as_str())
                )
                .into(),
            );
            match id {
                Some(id) => inner.tab.borrow_mut().worker_error(now(), &id, detail),
                None => inner.tab.borrow_mut().standby_error(),
            }
            inner.pump();
        });
        Ok((worker, [on_message, on_error], route))
    }

    /// Posts to the worker of a keyed backend this tab hosts.
    pub(super) fn to_worker(&self, backend_id: &BackendId, message: &LeaderToBackend) {
        let worker = self.keyed.borrow().workers.get(backend_id).map(|(w, _)| w.clone());
        if let Some(worker) = worker {
            post_frame("client", &worker, message, None);
        }
    }

    /// `terminate()`s the worker of a keyed backend.
    pub(super) fn kill_worker(&self, backend_id: &BackendId) {
        if let Some((worker, _listeners)) = self.keyed.borrow_mut().workers.remove(backend_id) {
            worker.terminate();
        }
    }

    /// The client was destroyed, and the tab settled every call and ended
    /// every session: the browser objects still held are let go.
    pub(super) fn shut_down_keyed(&self) {
        let keyed = std::mem::take(&mut *self.keyed.borrow_mut());
        for ports in keyed.sessions.into_values() {
            ports.close();
        }
        let standby = keyed.standby.map(|(worker, listeners, _)| (worker, listeners));
        for (worker, _) in keyed.workers.into_values().chain(standby) {
            worker.terminate();
        }
    }
}
