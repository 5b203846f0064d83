//! The tab side: `Client`, the app's face of a [`Tab`](crate::tab::Tab)
//! run in a page by its [`ClientDriver`]. Each method reads the app's
//! arguments, hands them to the tab or the driver, and turns what comes
//! back into JavaScript; the driver and its parts ([`coordinator_link`],
//! [`hosted`], [`ports`]) carry everything else.

mod compiled;
mod coordinator_link;
pub(crate) mod driver;
mod hosted;
mod keyed_session;
mod ports;
pub(crate) mod types;

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};

use super::error::{ErrorCode, TabworkerError, describe};
use super::options::ClientOptions;
use super::runtime::clock::now;
use super::runtime::codec::to_js;
use super::session_backend::{self, SessionBackend};
use crate::tab::{CallId, CallValue};
use driver::ClientDriver;
pub use keyed_session::KeyedSession;
use types::*;

/// One tab's membership of an app: it joins the app's coordinator, takes
/// part in the election of the leader tab, runs the backend worker while it
/// leads, and keeps a session with the leader's backend.
#[wasm_bindgen]
pub struct Client {
    driver: Rc<ClientDriver>,
}

#[wasm_bindgen]
impl Client {
    /// A client of the app `options.name` (default `"default"`), whose
    /// coordinator is the SharedWorker module script at `options.coordinator`
    /// and whose backend is the worker module script at `options.backend`.
    /// Nothing happens until `initialize()`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: ClientOptionsJs) -> Result<Client, TabworkerError> {
        let invalid =
            |e: String| TabworkerError::new(ErrorCode::InvalidArgument, format!("invalid ClientOptions: {e}"));
        let options = ClientOptions::read(options.into()).map_err(invalid)?;
        Ok(Client { driver: ClientDriver::new(options)? })
    }

    /// This client's id.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.driver.tab.borrow().id().to_string()
    }

    /// The name this client's deployment goes by: the app's name, `@`, and
    /// the fingerprint of its build (tabworker's version, the protocol, and
    /// `options.build`). The coordinator's SharedWorker is named
    /// `tabworker:<deployment>` and every lock `tabworker:<deployment>:…`;
    /// tabs of two deployments never meet.
    #[wasm_bindgen(getter)]
    pub fn deployment(&self) -> String {
        self.driver.names.app().to_string()
    }

    /// `'shared'`: the tabs share one coordinator, leader and backends;
    /// `'isolated'`: the browser has no SharedWorker, and this tab runs its
    /// deployment alone (its own leader and backends), while each key still
    /// has one live backend across the tabs.
    #[wasm_bindgen(getter)]
    pub fn mode(&self) -> ModeJs {
        JsValue::from_str(self.driver.mode.as_str()).unchecked_into()
    }

    /// `'leader'` while this tab holds the app's leader lock, else `'follower'`.
    #[wasm_bindgen(getter)]
    pub fn role(&self) -> RoleJs {
        JsValue::from_str(self.driver.tab.borrow().role().as_str()).unchecked_into()
    }

    /// The epoch of the newest leader this tab heard of.
    #[wasm_bindgen(getter)]
    pub fn epoch(&self) -> Option<f64> {
        self.driver.tab.borrow().leadership().map(|l| l.epoch.get() as f64)
    }

    /// The client id of the newest leader this tab heard of.
    #[wasm_bindgen(getter, js_name = leaderId)]
    pub fn leader_id(&self) -> Option<String> {
        self.driver.tab.borrow().leadership().map(|l| l.leader_id.to_string())
    }

    /// The backend id of the newest leader's default backend (the one the
    /// session is with): watch it with `status` and `statusStream`, stop it
    /// with `terminate` like any other backend.
    #[wasm_bindgen(getter, js_name = backendId)]
    pub fn backend_id(&self) -> Option<String> {
        self.driver.tab.borrow().leadership().and_then(|l| l.backend_id.as_ref()).map(ToString::to_string)
    }

    /// The id of the coordinator this client joined, once initialized.
    #[wasm_bindgen(getter, js_name = coordinatorId)]
    pub fn coordinator_id(&self) -> Option<String> {
        self.driver.state.borrow().coordinator_id.as_ref().map(ToString::to_string)
    }

    /// The open session with the leader's backend, if any.
    #[wasm_bindgen(getter)]
    pub fn session(&self) -> Option<SessionJs> {
        self.driver.default_session().map(JsCast::unchecked_into)
    }

    /// The open session, or the next one to open. Rejects if the client is
    /// destroyed first.
    pub fn connected(&self) -> SessionPromise {
        let call = self.driver.tab.borrow_mut().connected();
        promise(&self.driver, call).unchecked_into()
    }

    /// Listens for `type`: `'rolechange'`, `'leader'`, `'session'`,
    /// `'sessionend'` or `'backenderror'`; each is a `CustomEvent` whose
    /// `detail` is described by `ClientEventMap`. `options` are those of
    /// `EventTarget.addEventListener` (`once`, `signal`, …).
    #[wasm_bindgen(js_name = addEventListener)]
    pub fn add_event_listener(
        &self,
        kind: ClientEventType,
        listener: ClientEventListener,
        options: Option<ListenerOptions>,
    ) -> Result<(), TabworkerError> {
        self.call_events("addEventListener", kind, listener, options)
    }

    /// Stops listening.
    #[wasm_bindgen(js_name = removeEventListener)]
    pub fn remove_event_listener(
        &self,
        kind: ClientEventType,
        listener: ClientEventListener,
        options: Option<ListenerOptions>,
    ) -> Result<(), TabworkerError> {
        self.call_events("removeEventListener", kind, listener, options)
    }

    /// Joins the coordinator and enters the leader election. Resolves once
    /// the coordinator answered; the election and the session go on in the
    /// background (see `connected()`). Rejects with `not-initialized` if
    /// called again (the client goes on), and with the reason if joining
    /// failed (the client is then destroyed).
    pub fn initialize(&self) -> VoidPromise {
        let driver = self.driver.clone();
        if !driver.may_start() {
            let error = TabworkerError::new(ErrorCode::NotInitialized, "initialize() may be called once per client");
            return js_sys::Promise::reject(&error.into()).unchecked_into();
        }
        // Joining starts now, not a microtask later; a join that cannot start
        // leaves nothing behind (locks asked for, a connection).
        let started = driver.start_joining().inspect_err(|_| driver.shut_down());
        // Only now is anyone to hear of the join: a join that could not start
        // leaves no promise behind to reject unheard.
        let joined = started.map(|call| promise(&driver, call));
        future_to_promise(async move {
            // A join that failed left the tab: the browser's side goes too.
            JsFuture::from(joined?).await.inspect_err(|_| driver.shut_down())
        })
        .unchecked_into()
    }

    /// Asks the leader for a backend by key (the seed's `connect`). Resolves
    /// with the `ConnectResponse`; rejects with a `TabworkerError` whose
    /// `code` says why (`key-not-held`, `tag-mismatch`, `unknown-tag`,
    /// `unsupported-resource-limit`, `invalid-key`, `timeout`, …). `user` and
    /// `auth` stay in this tab until it opens a session with the response's
    /// `url`.
    pub fn connect(&self, request: ConnectRequestJs) -> ConnectResponsePromise {
        let request = match connect_request(request) {
            Ok(request) => request,
            Err(error) => return js_sys::Promise::reject(&error.into()).unchecked_into(),
        };
        let call = self.driver.tab.borrow_mut().connect(now(), request);
        promise(&self.driver, call).unchecked_into()
    }

    /// Opens a session with a keyed backend: `url` is a `ConnectResponse`'s
    /// `url`. The connect's `user` and `auth` (if this tab made it) go to the
    /// backend with the session, straight from this tab.
    pub fn open(&self, url: String) -> KeyedSessionPromise {
        let call = self.driver.tab.borrow_mut().open(now(), &url);
        promise(&self.driver, call).unchecked_into()
    }

    /// The current state of a backend (`backend`: its id or its
    /// `status_url`). Rejects with `unknown-backend` if none is known.
    pub fn status(&self, backend: String) -> BackendStatePromise {
        let call = self.driver.tab.borrow_mut().status(&backend);
        promise(&self.driver, call).unchecked_into()
    }

    /// Resolves when the backend (`backend`: its id or its `ready_url`) is
    /// ready; rejects with `backend-terminated` if it ends first.
    pub fn ready(&self, backend: String) -> BackendStatePromise {
        let call = self.driver.tab.borrow_mut().ready(&backend);
        promise(&self.driver, call).unchecked_into()
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
        let call = self.driver.tab.borrow_mut().terminate(&backend, hard);
        promise(&self.driver, call).unchecked_into()
    }

    /// Calls `callback` with every state of a backend (`backend`: its id or
    /// its `status_url`) once, in order: the past ones first, then each new
    /// one. Returns the function that stops it.
    #[wasm_bindgen(js_name = statusStream)]
    pub fn status_stream(&self, backend: String, callback: StatusCallback) -> Result<Unsubscribe, TabworkerError> {
        let callback: js_sys::Function = callback.dyn_into().map_err(|_| {
            TabworkerError::new(ErrorCode::InvalidArgument, "statusStream(backend, callback) needs a function")
        })?;
        let listener = Rc::new(move |state: &crate::BackendState| drop(callback.call1(&JsValue::NULL, &to_js(state))));
        let id = self.driver.watch(&backend, listener)?;
        let driver = Rc::downgrade(&self.driver);
        let unsubscribe = Closure::<dyn FnMut()>::new(move || {
            if let Some(driver) = driver.upgrade() {
                driver.unwatch(id);
            }
        });
        Ok(unsubscribe.into_js_value().unchecked_into())
    }

    /// A handle on the backend of `response`, or the default one (documented in `types/tab.d.ts`).
    #[wasm_bindgen(skip_typescript)]
    pub fn backend(&self, response: Option<ConnectResponseJs>) -> Result<SessionBackend, JsValue> {
        session_backend::backend(&self.driver, response)
    }

    /// Connects and resolves with a handle on the backend that answered (documented in `types/tab.d.ts`).
    #[wasm_bindgen(js_name = connectBackend, skip_typescript)]
    pub fn connect_backend(
        &self,
        request: ConnectRequestJs,
        options: Option<ConnectBackendOptionsJs>,
    ) -> js_sys::Promise {
        session_backend::connect_backend(&self.driver, request, options)
    }

    /// Leaves: stops the backend worker if this tab runs it, releases every
    /// lock, says goodbye to the coordinator and removes every listener.
    pub fn destroy(&self) -> VoidPromise {
        self.driver.shut_down();
        js_sys::Promise::resolve(&JsValue::UNDEFINED).unchecked_into()
    }
}

impl Client {
    fn call_events(
        &self,
        method: &str,
        kind: ClientEventType,
        listener: ClientEventListener,
        options: Option<ListenerOptions>,
    ) -> Result<(), TabworkerError> {
        let events = &self.driver.events;
        let invalid = |e: &JsValue| TabworkerError::new(ErrorCode::InvalidArgument, describe(e));
        let function: js_sys::Function = js_sys::Reflect::get(events, &method.into())
            .map_err(|e| invalid(&e))?
            .dyn_into()
            .map_err(|e| invalid(&e))?;
        let options = options.map_or(JsValue::UNDEFINED, JsValue::from);
        function.call3(events, &kind, &listener, &options).map(drop).map_err(|e| invalid(&e))
    }
}

/// The promise of `call`, settled with its value as JavaScript sees it
/// when the tab settles it (perhaps in the pump this starts).
fn promise(driver: &Rc<ClientDriver>, call: CallId) -> js_sys::Promise {
    driver.promise(call, |driver, value| match value {
        CallValue::Joined => Ok(JsValue::UNDEFINED),
        CallValue::Connected(response) => Ok(to_js(&*response)),
        CallValue::State(state) => Ok(to_js(&state)),
        // The tab settles `connected()` just after the session's port reached the page.
        CallValue::DefaultSession(_) => driver
            .default_session()
            .ok_or_else(|| TabworkerError::new(ErrorCode::BackendLost, "the session ended at once").into()),
        CallValue::Session { session_id, backend_id } => {
            KeyedSession::of(driver, session_id, backend_id).map(JsValue::from).ok_or_else(|| {
                TabworkerError::new(ErrorCode::BackendTerminated, "the session ended while it opened").into()
            })
        }
    })
}
