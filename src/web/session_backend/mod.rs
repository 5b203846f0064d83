//! `SessionBackend`: a tab's handle on one backend (a keyed one, from a
//! `ConnectResponse`, or the app's default backend): its lifecycle, the
//! events it sends and receives, and its requests.
//!
//! Every rule is the core's: the [`Caller`] queues what is made while no
//! session is open, matches answers, and decides what fails when a session
//! is lost; the [`Tracker`] says what each state means for `ready()` and the
//! listeners. This layer carries ports, promises and callbacks; its
//! deadlines are served by its client's one timer.

mod link;
mod remote;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::AbortSignal;

use super::client::{Client, Deadlines};
use super::error::{ErrorCode, describe};
use super::keyed::Unsubscribe;
use super::runtime::channel::{Payload, TransferList, transfer_list};
use super::runtime::clock::now;
use super::runtime::codec::{from_js, to_js};
use super::runtime::js::get;
use super::runtime::listener::Listener;
use crate::channel::{Caller, Closing, Tracker};
use crate::model::connect::{ConnectRequest, ConnectResponse};
use crate::model::value::ValueError;
use crate::plane::remote::is_remote;
use link::{Pending, Shared, Target, close_keyed, destroyed, error, function, request_error};

#[wasm_bindgen]
extern "C" {
    /// `ConnectResponse` in TypeScript.
    #[wasm_bindgen(typescript_type = "ConnectResponse")]
    pub type ConnectResponseJs;
    /// `RequestOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "RequestOptions")]
    pub type RequestOptionsJs;
    /// `(payload: unknown) => void` in TypeScript.
    #[wasm_bindgen(typescript_type = "(payload: unknown) => void")]
    pub type EventCallback;
    /// `(state: BackendState) => void` in TypeScript.
    #[wasm_bindgen(typescript_type = "(state: BackendState) => void")]
    pub type StateCallback;
    /// `Promise<unknown>` in TypeScript.
    #[wasm_bindgen(typescript_type = "Promise<unknown>")]
    pub type UnknownPromise;
    /// `Promise<BackendState>` in TypeScript.
    #[wasm_bindgen(typescript_type = "Promise<BackendState>")]
    pub type ReadyPromise;
    /// `ConnectBackendOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "ConnectBackendOptions")]
    pub type ConnectBackendOptionsJs;
    /// `(response: ConnectResponse) => void` in TypeScript.
    #[wasm_bindgen(typescript_type = "(response: ConnectResponse) => void")]
    pub type ReconnectCallback;
}

/// How long a request waits for its answer unless `timeoutMs` says otherwise.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;

/// A tab's handle on one backend: `client.backend(response)` for a keyed
/// backend, `client.backend()` for the app's default backend.
#[wasm_bindgen]
pub struct SessionBackend {
    shared: Rc<Shared>,
}

#[wasm_bindgen]
impl Client {
    /// A handle on a backend: the keyed backend of `response` (a
    /// `ConnectResponse` of any tab), or without it the app's default
    /// backend. It opens its session at once and keeps it.
    /// (Typed in the `Client` interface of `typescript.rs`, generic in the backend's schema.)
    #[wasm_bindgen(skip_typescript)]
    pub fn backend(&self, response: Option<ConnectResponseJs>) -> Result<SessionBackend, JsValue> {
        let target = match response {
            None => Target::Default,
            Some(response) => {
                let response: JsValue = response.into();
                let invalid =
                    |e: ValueError| error(ErrorCode::InvalidArgument, format!("invalid ConnectResponse: {e}"));
                if get(&response, "url").as_string().is_some_and(|url| is_remote(&url)) {
                    Target::Remote(from_js(response).map_err(invalid)?)
                } else {
                    Target::Keyed { url: from_js::<ConnectResponse>(response).map_err(invalid)?.url, request: None }
                }
            }
        };
        self.handle(target, false)
    }

    /// Connects (`connect(request)`) and resolves with a handle on the
    /// backend that answered. With `{ reconnect: true }`, when that backend
    /// is lost with its tab (`lost` or `key_expired`: the leader closed or
    /// crashed) the handle connects the same request again, follows the
    /// new backend, sends it what was queued meanwhile and calls its
    /// `onReconnect` listeners.
    /// (Typed in the `Client` interface of `typescript.rs`.)
    #[wasm_bindgen(js_name = connectBackend, skip_typescript)]
    pub fn connect_backend(
        &self,
        request: super::keyed::ConnectRequestJs,
        options: Option<ConnectBackendOptionsJs>,
    ) -> js_sys::Promise {
        let request_js: JsValue = request.into();
        let parsed: ConnectRequest = match from_js(request_js.clone()) {
            Ok(request) => request,
            Err(e) => {
                let refused = error(ErrorCode::InvalidArgument, format!("invalid ConnectRequest: {e}"));
                return js_sys::Promise::reject(&refused);
            }
        };
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let reconnect = options.is_object()
            && js_sys::Reflect::get(&options, &"reconnect".into()).ok().and_then(|v| v.as_bool()).unwrap_or(false);
        let connecting = js_sys::Promise::from(JsValue::from(self.connect(request_js.unchecked_into())));
        let client = Client { inner: self.inner.clone() };
        wasm_bindgen_futures::future_to_promise(async move {
            let answer = wasm_bindgen_futures::JsFuture::from(connecting).await?;
            let response: ConnectResponse = from_js(answer).map_err(|e| error(ErrorCode::Malformed, e.to_string()))?;
            let target = Target::Keyed { url: response.url, request: Some(parsed) };
            client.handle(target, reconnect).map(JsValue::from)
        })
    }
}

impl Client {
    fn handle(&self, target: Target, reconnect: bool) -> Result<SessionBackend, JsValue> {
        let inner = &self.inner;
        let shared = Rc::new(Shared {
            client: Rc::downgrade(inner),
            target,
            caller: RefCell::new(Caller::with_numbers(inner.next_caller(), inner.numbers.clone())),
            tracker: RefCell::new(Tracker::new()),
            closing: RefCell::new(Closing::new(reconnect)),
            port: RefCell::new(None),
            keyed: RefCell::new(None),
            remote: RefCell::new(None),
            events: RefCell::default(),
            lifecycle: RefCell::default(),
            ready_waiters: RefCell::default(),
            requests: RefCell::default(),
            client_listeners: RefCell::default(),
            unsubscribe_status: RefCell::new(None),
            destroyed: Cell::new(false),
            reported: Cell::new(None),
        });
        let deadlines: std::rc::Weak<dyn Deadlines> = Rc::downgrade(&shared) as _;
        inner.add_deadlines(deadlines);
        match &shared.target {
            Target::Default => shared.follow_default(self),
            Target::Keyed { url, .. } => {
                let url = url.clone();
                shared.follow_keyed(self, &url)?;
            }
            Target::Remote(remote) => shared.follow_remote(remote)?,
        }
        Ok(SessionBackend { shared })
    }
}

impl SessionBackend {
    /// Adds `callback` to the `name` listeners of the lifecycle; with `now`,
    /// it is first called with the current state, if there is one.
    fn on_lifecycle(&self, name: &str, callback: StateCallback, now: bool) -> Result<Unsubscribe, JsValue> {
        self.shared.check_alive()?;
        let callback = function(callback.into(), "the callback")?;
        if let Some(state) = self.shared.tracker.borrow().last().filter(|_| now) {
            let _ = callback.call1(&JsValue::NULL, &to_js(state));
        }
        Ok(self.shared.subscribe(|s| &s.lifecycle, name.into(), callback))
    }
}

#[wasm_bindgen]
impl SessionBackend {
    /// The id of the backend followed (for the default backend, the current leader's).
    #[wasm_bindgen(getter, js_name = backendId)]
    pub fn backend_id(&self) -> Option<String> {
        self.shared.tracker.borrow().backend().map(ToString::to_string)
    }

    /// Where the backend runs: `'browser'` (a worker of this app's leader
    /// tab) or `'remote'` (a Plane cluster). Nothing else differs.
    #[wasm_bindgen(getter, unchecked_return_type = "'browser' | 'remote'")]
    pub fn location(&self) -> String {
        if matches!(self.shared.target, Target::Remote(_)) { "remote" } else { "browser" }.to_string()
    }

    /// Whether the backend is ready now.
    #[wasm_bindgen(js_name = isReady)]
    pub fn is_ready(&self) -> bool {
        self.shared.tracker.borrow().is_ready()
    }

    /// Whether the backend ended.
    #[wasm_bindgen(js_name = isTerminated)]
    pub fn is_terminated(&self) -> bool {
        self.shared.tracker.borrow().is_terminated()
    }

    /// The backend's last known state.
    #[wasm_bindgen(unchecked_return_type = "BackendState | undefined")]
    pub fn status(&self) -> JsValue {
        self.shared.tracker.borrow().last().map_or(JsValue::UNDEFINED, to_js)
    }

    /// Resolves with the ready state once the backend is ready; rejects with
    /// `backend-terminated` (its `state` the final one) if it ends first,
    /// and with `destroyed` after `destroy()`.
    pub fn ready(&self) -> ReadyPromise {
        let shared = &self.shared;
        if shared.destroyed.get() {
            return js_sys::Promise::reject(&destroyed()).unchecked_into();
        }
        let promise =
            js_sys::Promise::new(&mut |resolve, reject| shared.ready_waiters.borrow_mut().push((resolve, reject)));
        shared.settle_ready();
        promise.unchecked_into()
    }

    /// Calls `callback` with the ready state when the backend is ready (at
    /// once if it is); returns the function that removes it.
    #[wasm_bindgen(js_name = onReady)]
    pub fn on_ready(&self, callback: StateCallback) -> Result<Unsubscribe, JsValue> {
        let now = self.is_ready();
        self.on_lifecycle("ready", callback, now)
    }

    /// Calls `callback` with every new state of the backend, once and in
    /// order, starting with the current one; returns the function that removes it.
    #[wasm_bindgen(js_name = onStatus)]
    pub fn on_status(&self, callback: StateCallback) -> Result<Unsubscribe, JsValue> {
        self.on_lifecycle("status", callback, true)
    }

    /// Calls `callback` with the final state when the backend ends (at once
    /// if it has); returns the function that removes it.
    #[wasm_bindgen(js_name = onTerminated)]
    pub fn on_terminated(&self, callback: StateCallback) -> Result<Unsubscribe, JsValue> {
        let now = self.is_terminated();
        self.on_lifecycle("terminated", callback, now)
    }

    /// Calls `callback` with the new `ConnectResponse` each time a handle
    /// made with `connectBackend(request, { reconnect: true })` connected
    /// its key again; returns the function that removes it.
    #[wasm_bindgen(js_name = onReconnect)]
    pub fn on_reconnect(&self, callback: ReconnectCallback) -> Result<Unsubscribe, JsValue> {
        self.shared.check_alive()?;
        let callback = function(callback.into(), "the callback")?;
        Ok(self.shared.subscribe(|s| &s.lifecycle, "reconnect".into(), callback))
    }

    /// Sends event `event` to the backend, transferring `transfer`; queued
    /// in order while no session is open. Throws `backend-terminated` once
    /// the backend ended, `destroyed` after `destroy()`.
    pub fn send(
        &self,
        event: String,
        #[wasm_bindgen(unchecked_param_type = "unknown")] payload: JsValue,
        transfer: Option<TransferList>,
    ) -> Result<(), JsValue> {
        let transfer = transfer_list(transfer).map_err(|e| error(ErrorCode::InvalidArgument, e))?;
        let sent = self.shared.caller.borrow_mut().send(event, Payload { value: payload, transfer });
        sent.map_err(request_error)?;
        self.shared.pump().map_or(Ok(()), Err)
    }

    /// Calls `callback(payload)` for each event `event` from the backend;
    /// returns the function that removes it.
    pub fn on(&self, event: String, callback: EventCallback) -> Result<Unsubscribe, JsValue> {
        self.shared.check_alive()?;
        crate::channel::check_name("an event name", &event).map_err(|e| error(ErrorCode::InvalidArgument, e.detail))?;
        let callback = function(callback.into(), "the listener")?;
        Ok(self.shared.subscribe(|s| &s.events, event, callback))
    }

    /// Asks the backend's handler of `method`; resolves with its result.
    /// Rejects with `handler-error` (its message), `no-handler`, `timeout`
    /// (`options.timeoutMs`, default 30 s), `aborted` (`options.signal`),
    /// `backend-lost` (sent, and the backend was lost before it answered;
    /// with its `state`), `backend-terminated` or `destroyed`.
    pub fn request(
        &self,
        method: String,
        #[wasm_bindgen(unchecked_param_type = "unknown")] payload: JsValue,
        options: Option<RequestOptionsJs>,
    ) -> UnknownPromise {
        let shared = &self.shared;
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let get = |name: &str| {
            if options.is_object() { js_sys::Reflect::get(&options, &name.into()).ok() } else { None }
        };
        let timeout = match get("timeoutMs").filter(|v| !v.is_undefined()) {
            None => Ok(DEFAULT_REQUEST_TIMEOUT_MS),
            Some(v) => v
                .as_f64()
                .filter(|ms| ms.is_finite() && *ms >= 0.0)
                .map(|ms| ms as u64)
                .ok_or_else(|| error(ErrorCode::InvalidArgument, "timeoutMs must be a number of milliseconds")),
        };
        let signal = match get("signal").filter(|v| !v.is_undefined() && !v.is_null()) {
            None => Ok(None),
            Some(v) => v
                .dyn_into::<AbortSignal>()
                .map(Some)
                .map_err(|_| error(ErrorCode::InvalidArgument, "signal must be an AbortSignal")),
        };
        let (timeout, signal) = match (timeout, signal) {
            (Ok(t), Ok(s)) => (t, s),
            (Err(e), _) | (_, Err(e)) => return js_sys::Promise::reject(&e).unchecked_into(),
        };
        let made = shared.caller.borrow_mut().request(now(), method, Payload::plain(payload), timeout);
        let id = match made {
            Ok(id) => id,
            Err(failure) => return js_sys::Promise::reject(&request_error(failure)).unchecked_into(),
        };
        let abort = signal.as_ref().map(|signal| {
            let weak = Rc::downgrade(shared);
            let reason_of = signal.clone();
            Listener::new(signal, "abort", move |_: web_sys::Event| {
                if let Some(shared) = weak.upgrade() {
                    shared.caller.borrow_mut().abort(id, &describe(&reason_of.reason()));
                    shared.pump();
                }
            })
        });
        let promise = js_sys::Promise::new(&mut |resolve, reject| {
            shared.requests.borrow_mut().insert(id, Pending { resolve, reject, _abort: None });
        });
        if let Some(pending) = shared.requests.borrow_mut().get_mut(&id) {
            pending._abort = abort;
        }
        if let Some(signal) = signal.filter(AbortSignal::aborted) {
            shared.caller.borrow_mut().abort(id, &describe(&signal.reason()));
        }
        shared.pump();
        promise.unchecked_into()
    }

    /// Stops listening, closes this handle's session (the backend goes on),
    /// and fails its pending requests and `ready()` with `destroyed`. Every
    /// later subscription throws `destroyed`.
    pub fn destroy(&self) {
        let shared = &self.shared;
        if shared.destroyed.replace(true) {
            return;
        }
        shared.caller.borrow_mut().destroy();
        shared.pump();
        for (_, reject) in std::mem::take(&mut *shared.ready_waiters.borrow_mut()) {
            let _ = reject.call1(&JsValue::NULL, &destroyed());
        }
        shared.events.borrow_mut().clear();
        shared.lifecycle.borrow_mut().clear();
        shared.client_listeners.borrow_mut().clear();
        if let Some(unsubscribe) = shared.unsubscribe_status.borrow_mut().take() {
            let _ = unsubscribe.call0(&JsValue::NULL);
        }
        shared.port.borrow_mut().take();
        shared.close_remote();
        if let Some(session) = shared.keyed.borrow_mut().take() {
            close_keyed(&session);
        }
    }
}
