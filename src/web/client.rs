//! The tab side: `Client`, which runs [`Tab`] in a page.

use std::cell::{Cell, RefCell, RefMut};
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use web_sys::MessagePort;

use super::error::{ErrorCode, TabworkerError, describe};
use super::features::Features;
use super::options::ClientOptions;
use super::runtime::clock::now;
use super::runtime::frames::post_frame;
use super::runtime::js::{object, random_id};
use super::runtime::listener::Listener;
use super::runtime::lock_table::LockTable;
use super::runtime::timer::Timer;
use super::session_backend::{self, ConnectBackendOptionsJs, ConnectResponseJs, SessionBackend};
use super::tables::{Keyed, Promises, Waiter};
use crate::model::ids::{BackendId, ClientId, CoordinatorId, Epoch, SessionId};
use crate::model::locks::{LockId, LockNames};
use crate::model::time::Timestamp;
use crate::protocol::WireMessage;
use crate::tab::{CallError, CallId, CallValue, Mode, Tab, TabEvent, TabOutput};

#[wasm_bindgen]
extern "C" {
    /// `ClientOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "ClientOptions")]
    pub type ClientOptionsJs;
    /// `Role` in TypeScript.
    #[wasm_bindgen(typescript_type = "Role")]
    pub type RoleJs;
    /// `ClientMode` in TypeScript.
    #[wasm_bindgen(typescript_type = "ClientMode")]
    pub type ModeJs;
    /// `Session` in TypeScript.
    #[wasm_bindgen(typescript_type = "Session")]
    pub type SessionJs;
    /// `Promise<Session>` in TypeScript.
    #[wasm_bindgen(typescript_type = "Promise<Session>")]
    pub type SessionPromise;
    /// `Promise<void>` in TypeScript.
    #[wasm_bindgen(typescript_type = "Promise<void>")]
    pub type VoidPromise;
    /// `keyof ClientEventMap` in TypeScript.
    #[wasm_bindgen(typescript_type = "keyof ClientEventMap")]
    pub type ClientEventType;
    /// `AddEventListenerOptions | boolean` in TypeScript.
    #[wasm_bindgen(typescript_type = "AddEventListenerOptions | boolean")]
    pub type ListenerOptions;
    /// `ClientEventListener` in TypeScript.
    #[wasm_bindgen(typescript_type = "ClientEventListener")]
    pub type ClientEventListener;
}

/// A random number from `crypto.randomUUID()` (122 random bits).
fn entropy() -> u128 {
    let uuid: String = random_id();
    let hex: String = uuid.chars().filter(char::is_ascii_hexdigit).collect();
    // A UUID has 32 hex digits; the fallback id of `random_id` fewer.
    u128::from_str_radix(&hex[..hex.len().min(32)], 16).unwrap_or_default()
}

/// The open session: its port, and the `Session` object the app sees (one
/// object per session, whichever way the app reaches it).
struct Session {
    port: MessagePort,
    backend_id: Option<BackendId>,
    js: JsValue,
}

impl Session {
    fn new(id: &SessionId, epoch: Epoch, backend_id: Option<&BackendId>, port: MessagePort) -> Session {
        let js = object(&[
            ("id", id.as_str().into()),
            ("epoch", (epoch.get() as f64).into()),
            ("backendId", backend_id.map_or(JsValue::NULL, |b| b.as_str().into())),
            ("port", port.clone().into()),
        ]);
        Session { port, backend_id: backend_id.cloned(), js }
    }
}

#[derive(Default)]
pub(super) struct State {
    pub(super) coordinator: Option<MessagePort>,
    pub(super) coordinator_listeners: Vec<Listener>,
    /// The coordinator's dedicated worker, in `Mode::Isolated`.
    pub(super) coordinator_worker: Option<web_sys::Worker>,
    locks: LockTable<LockId>,
    /// The port that came with the input being handled.
    pub(super) carried: Option<MessagePort>,
    session: Option<Session>,
    /// `connected()` calls waiting for a session: (resolve, reject).
    waiters: Vec<(js_sys::Function, js_sys::Function)>,
    coordinator_id: Option<CoordinatorId>,
    destroyed: bool,
}

pub(super) struct Inner {
    pub(super) options: ClientOptions,
    pub(super) names: LockNames,
    /// Whether the tabs share a coordinator, or this one runs alone.
    pub(super) mode: Mode,
    pub(super) tab: RefCell<Tab>,
    pub(super) state: RefCell<State>,
    pub(super) keyed: RefCell<Keyed>,
    /// The promises of the tab's calls.
    pub(super) promises: RefCell<Promises>,
    pub(super) events: web_sys::EventTarget,
    timer: Timer,
    pumping: Cell<bool>,
    /// The number of the last `SessionBackend` handle made.
    callers: Cell<u32>,
    /// The numbers of the requests of every handle made here.
    pub(super) numbers: crate::channel::RequestNumbers,
    /// The `SessionBackend` handles made here: the one timer serves their
    /// deadlines too, and they hear of each default session.
    attached: RefCell<Vec<Weak<dyn Attached>>>,
}

/// A `SessionBackend` handle made in this tab: the client's one timer is
/// armed to the earliest of the tab's deadlines and theirs and tells each
/// when it fires, and each hears of the default sessions.
pub(super) trait Attached {
    /// Its earliest deadline.
    fn poll_timeout(&self) -> Option<Timestamp>;
    /// Time passed: it acts on what is due.
    fn timeout(self: Rc<Self>, now: Timestamp);
    /// The default session opened (its port and backend), or ended (`None`).
    fn default_session(self: Rc<Self>, session: Option<(MessagePort, Option<BackendId>)>);
}

/// One tab's membership of an app: it joins the app's coordinator, takes
/// part in the election of the leader tab, runs the backend worker while it
/// leads, and keeps a session with the leader's backend.
#[wasm_bindgen]
pub struct Client {
    pub(super) inner: Rc<Inner>,
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
        let id: ClientId = random_id();
        // Without SharedWorker, the tab runs its deployment alone (`Mode::Isolated`).
        let mode = Mode::of(Features::detect().shared_worker);
        let names = LockNames::new(mode.app(&options.app, &id).map_err(|e| invalid(e.to_string()))?);
        let mut tab = Tab::new(id, names.clone());
        let limits = crate::fleet::FleetLimits {
            startup_timeout_ms: options.startup_timeout_ms.into(),
            grace_ms: options.termination_grace_ms.into(),
        };
        tab.configure_fleet(limits, options.backends.keys().cloned(), Box::new(entropy));
        tab.set_call_timeout(options.connect_timeout_ms.into());
        let events =
            web_sys::EventTarget::new().map_err(|e| TabworkerError::new(ErrorCode::InvalidArgument, describe(&e)))?;
        let inner = Rc::new_cyclic(|weak: &std::rc::Weak<Inner>| {
            let weak = weak.clone();
            Inner {
                tab: RefCell::new(tab),
                keyed: RefCell::default(),
                promises: RefCell::default(),
                options,
                names,
                mode,
                state: RefCell::default(),
                events,
                timer: Timer::new(move || {
                    if let Some(inner) = weak.upgrade() {
                        let at = now();
                        inner.tab.borrow_mut().timeout(at);
                        inner.pump();
                        for other in inner.handles() {
                            other.timeout(at);
                        }
                        inner.arm();
                    }
                }),
                pumping: Cell::new(false),
                callers: Cell::new(0),
                numbers: crate::channel::RequestNumbers::new(),
                attached: RefCell::default(),
            }
        });
        Ok(Client { inner })
    }

    /// This client's id.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.inner.tab.borrow().id().to_string()
    }

    /// The name this client's deployment goes by: the app's name, `@`, and
    /// the fingerprint of its build (tabworker's version, the protocol, and
    /// `options.build`). The coordinator's SharedWorker is named
    /// `tabworker:<deployment>` and every lock `tabworker:<deployment>:…`;
    /// tabs of two deployments never meet.
    #[wasm_bindgen(getter)]
    pub fn deployment(&self) -> String {
        self.inner.names.app().to_string()
    }

    /// `'shared'`: the tabs share one coordinator, leader and backends;
    /// `'isolated'`: the browser has no SharedWorker, and this tab runs its
    /// deployment alone (its own leader and backends), while each key still
    /// has one live backend across the tabs.
    #[wasm_bindgen(getter)]
    pub fn mode(&self) -> ModeJs {
        JsValue::from_str(self.inner.mode.as_str()).unchecked_into()
    }

    /// `'leader'` while this tab holds the app's leader lock, else `'follower'`.
    #[wasm_bindgen(getter)]
    pub fn role(&self) -> RoleJs {
        JsValue::from_str(self.inner.tab.borrow().role().as_str()).unchecked_into()
    }

    /// The epoch of the newest leader this tab heard of.
    #[wasm_bindgen(getter)]
    pub fn epoch(&self) -> Option<f64> {
        self.inner.tab.borrow().leadership().map(|l| l.epoch.get() as f64)
    }

    /// The client id of the newest leader this tab heard of.
    #[wasm_bindgen(getter, js_name = leaderId)]
    pub fn leader_id(&self) -> Option<String> {
        self.inner.tab.borrow().leadership().map(|l| l.leader_id.to_string())
    }

    /// The backend id of the newest leader's default backend (the one the
    /// session is with): watch it with `status` and `statusStream`, stop it
    /// with `terminate` like any other backend.
    #[wasm_bindgen(getter, js_name = backendId)]
    pub fn backend_id(&self) -> Option<String> {
        self.inner.tab.borrow().leadership().and_then(|l| l.backend_id.as_ref()).map(ToString::to_string)
    }

    /// The id of the coordinator this client joined, once initialized.
    #[wasm_bindgen(getter, js_name = coordinatorId)]
    pub fn coordinator_id(&self) -> Option<String> {
        self.inner.state.borrow().coordinator_id.as_ref().map(ToString::to_string)
    }

    /// The open session with the leader's backend, if any.
    #[wasm_bindgen(getter)]
    pub fn session(&self) -> Option<SessionJs> {
        self.inner.state.borrow().session.as_ref().map(|s| s.js.clone().unchecked_into())
    }

    /// The open session, or the next one to open. Rejects if the client is
    /// destroyed first.
    pub fn connected(&self) -> SessionPromise {
        let mut state = self.inner.state.borrow_mut();
        if state.destroyed {
            let error: JsValue = TabworkerError::new(ErrorCode::NotInitialized, "the client was destroyed").into();
            return js_sys::Promise::reject(&error).unchecked_into();
        }
        if let Some(session) = &state.session {
            return js_sys::Promise::resolve(&session.js).unchecked_into();
        }
        let mut slot = None;
        let promise = js_sys::Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
        state.waiters.extend(slot);
        promise.unchecked_into()
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

    fn call_events(
        &self,
        method: &str,
        kind: ClientEventType,
        listener: ClientEventListener,
        options: Option<ListenerOptions>,
    ) -> Result<(), TabworkerError> {
        let events = &self.inner.events;
        let invalid = |e: &JsValue| TabworkerError::new(ErrorCode::InvalidArgument, describe(e));
        let function: js_sys::Function = js_sys::Reflect::get(events, &method.into())
            .map_err(|e| invalid(&e))?
            .dyn_into()
            .map_err(|e| invalid(&e))?;
        let options = options.map_or(JsValue::UNDEFINED, JsValue::from);
        function.call3(events, &kind, &listener, &options).map(drop).map_err(|e| invalid(&e))
    }

    /// Joins the coordinator and enters the leader election. Resolves once
    /// the coordinator answered; the election and the session go on in the
    /// background (see `connected()`). Rejects with `not-initialized` if
    /// called again (the client goes on), and with the reason if joining
    /// failed (the client is then destroyed).
    pub fn initialize(&self) -> VoidPromise {
        let inner = self.inner.clone();
        if inner.state.borrow().coordinator.is_some() || inner.state.borrow().destroyed {
            let error = TabworkerError::new(ErrorCode::NotInitialized, "initialize() may be called once per client");
            return js_sys::Promise::reject(&error.into()).unchecked_into();
        }
        // Joining starts now, not a microtask later; a join that cannot start
        // leaves nothing behind (locks asked for, a connection).
        let started = start_joining(&inner).inspect_err(|_| inner.shut_down());
        future_to_promise(async move {
            let joined = started?;
            // A join that failed left the tab: the browser's side goes too.
            JsFuture::from(joined).await.inspect_err(|_| inner.shut_down())
        })
        .unchecked_into()
    }

    /// A handle on a backend: the keyed backend of `response` (a
    /// `ConnectResponse` of any tab), or without it the app's default
    /// backend. It opens its session at once and keeps it.
    /// (Typed in the `Client` interface of `typescript.rs`, generic in the backend's schema.)
    #[wasm_bindgen(skip_typescript)]
    pub fn backend(&self, response: Option<ConnectResponseJs>) -> Result<SessionBackend, JsValue> {
        session_backend::backend(&self.inner, response)
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
        session_backend::connect_backend(&self.inner, request, options)
    }

    /// Leaves: stops the backend worker if this tab runs it, releases every
    /// lock, says goodbye to the coordinator and removes every listener.
    pub fn destroy(&self) -> VoidPromise {
        self.inner.shut_down();
        js_sys::Promise::resolve(&JsValue::UNDEFINED).unchecked_into()
    }
}

impl Inner {
    /// A number for a new `SessionBackend` handle, unique in this tab: its
    /// requests' ids carry it, so handles sharing a session never mix
    /// their answers.
    pub(super) fn next_caller(&self) -> u32 {
        self.callers.set(self.callers.get().wrapping_add(1));
        self.callers.get()
    }

    /// Carries out what the tab asks for, until it asks for nothing, then
    /// arms the timer. Re-entered from an app's event listener, it returns
    /// at once: the outer call drains what the inner input produced.
    pub(super) fn pump(self: &Rc<Self>) {
        if self.pumping.replace(true) {
            return;
        }
        loop {
            let Some(output) = self.tab.borrow_mut().poll_output() else { break };
            self.execute(output);
        }
        self.pumping.set(false);
        if let Some(unused) = self.state.borrow_mut().carried.take() {
            unused.close();
        }
        self.arm();
    }

    /// Arms the one timer to the earliest deadline of the tab and of the
    /// handles made here (forgetting handles that are gone).
    pub(super) fn arm(&self) {
        if self.state.borrow().destroyed {
            return;
        }
        let live = self.handles();
        let others = live.iter().filter_map(|d| d.poll_timeout()).min();
        let tab = self.tab.borrow().poll_timeout();
        self.timer.arm([tab, others].into_iter().flatten().min(), now());
        // Dropped after every borrow above: a handle let go of meanwhile may act as it drops.
        drop(live);
    }

    /// Serves `handle` with this client's timer and default sessions from
    /// now on; it is told of the current default session at once.
    pub(super) fn attach(&self, handle: Rc<dyn Attached>) {
        self.attached.borrow_mut().push(Rc::downgrade(&handle));
        let current = self.state.borrow().session.as_ref().map(|s| (s.port.clone(), s.backend_id.clone()));
        if current.is_some() {
            handle.default_session(current);
        }
    }

    /// The live handles made here (forgetting those that are gone).
    fn handles(&self) -> Vec<Rc<dyn Attached>> {
        let mut attached = self.attached.borrow_mut();
        attached.retain(|d| d.strong_count() > 0);
        attached.iter().filter_map(Weak::upgrade).collect()
    }

    /// `then` is called with the outcome of `call` (perhaps in the pump this starts).
    pub(super) fn then(self: &Rc<Self>, call: CallId, then: impl FnOnce(Result<CallValue, CallError>) + 'static) {
        self.promises.borrow_mut().then(call, Box::new(then));
        self.pump();
    }

    fn execute(self: &Rc<Self>, output: TabOutput) {
        match output {
            TabOutput::ToCoordinator(message) => {
                let port = self.state.borrow().coordinator.clone();
                let carried = if message.ports() == 1 { self.state.borrow_mut().carried.take() } else { None };
                if let Some(port) = port {
                    post_frame("client", &port, &message, carried.as_ref());
                }
            }
            TabOutput::ReconnectCoordinator => {
                if let Err(e) = self.connect_coordinator() {
                    web_sys::console::error_1(&format!("tabworker client: cannot reach a new coordinator: {e}").into());
                }
            }
            TabOutput::SpawnWorker { backend_id, tag } => self.spawn_worker(backend_id, tag),
            TabOutput::SpawnStandby => self.spawn_standby(),
            TabOutput::AdoptStandby { backend_id } => self.adopt_standby(backend_id),
            TabOutput::KillStandby => self.kill_standby(),
            TabOutput::ToWorker { backend_id, message } => self.to_worker(&backend_id, &message),
            TabOutput::KillWorker { backend_id } => self.kill_worker(&backend_id),
            TabOutput::OpenKeyed { session_id, message } => self.open_keyed(session_id, message),
            TabOutput::CloseKeyed { session_id } => self.close_keyed(&session_id),
            TabOutput::Acquire { lock, name, mode } => self.acquire(lock, &name, mode),
            TabOutput::Release { lock } => self.state.borrow_mut().locks.release(&lock),
            TabOutput::Event(event) => self.on_event(event),
        }
    }

    /// The promise of `call`, settled when the tab settles it (perhaps in
    /// the pump this starts).
    pub(super) fn promise(self: &Rc<Self>, call: CallId) -> js_sys::Promise {
        let promise = self.promises.borrow_mut().make(call);
        self.pump();
        promise
    }

    /// The tab settled `call`.
    fn settle(self: &Rc<Self>, call: CallId, outcome: Result<CallValue, CallError>) {
        let waiter = self.promises.borrow_mut().take(call);
        let (resolve, reject) = match waiter {
            Some(Waiter::Promise(resolve, reject)) => (resolve, reject),
            Some(Waiter::Rust(then)) => return then(outcome),
            None => return,
        };
        let settled = match outcome {
            Ok(value) => self.js_value(value),
            Err(error) => Err(TabworkerError::from(error).into()),
        };
        // What the app's reactions throw is reported by the browser, not here.
        let _ = match settled {
            Ok(value) => resolve.call1(&JsValue::NULL, &value),
            Err(error) => reject.call1(&JsValue::NULL, &error),
        };
    }

    fn locks(&self) -> RefMut<'_, LockTable<LockId>> {
        RefMut::map(self.state.borrow_mut(), |state| &mut state.locks)
    }

    fn acquire(self: &Rc<Self>, lock: LockId, name: &str, mode: crate::LockMode) {
        LockTable::acquire_then(self, Self::locks, (lock, name, mode), "client", |inner, lock| {
            inner.tab.borrow_mut().lock_granted(now(), lock);
            LockTable::when_lost(inner, Self::locks, lock, |inner, lock| {
                inner.tab.borrow_mut().lock_lost(now(), lock);
                inner.pump();
            });
            inner.pump();
        });
    }

    fn on_event(self: &Rc<Self>, event: TabEvent) {
        let (kind, detail): (&str, JsValue) = match event {
            TabEvent::Joined { coordinator_id } => {
                self.state.borrow_mut().coordinator_id = Some(coordinator_id);
                return;
            }
            TabEvent::RoleChanged(role) => ("rolechange", object(&[("role", role.as_str().into())])),
            TabEvent::Leader(leadership) => (
                "leader",
                object(&[
                    ("leaderId", leadership.leader_id.as_str().into()),
                    ("epoch", (leadership.epoch.get() as f64).into()),
                    ("backendId", leadership.backend_id.as_ref().map_or(JsValue::NULL, |b| b.as_str().into())),
                ]),
            ),
            TabEvent::Connected { session_id, epoch, backend_id } => {
                let Some(port) = self.state.borrow_mut().carried.take() else { return };
                let session = Session::new(&session_id, epoch, backend_id.as_ref(), port);
                let detail = session.js.clone();
                let told = (session.port.clone(), session.backend_id.clone());
                let waiters = {
                    let mut state = self.state.borrow_mut();
                    state.session = Some(session);
                    std::mem::take(&mut state.waiters)
                };
                for (resolve, _) in waiters {
                    let _ = resolve.call1(&JsValue::NULL, &detail);
                }
                for handle in self.handles() {
                    handle.default_session(Some(told.clone()));
                }
                ("session", detail)
            }
            TabEvent::Disconnected { session_id, reason } => {
                let ended = self.state.borrow_mut().session.take();
                if let Some(ended) = ended {
                    ended.port.close();
                }
                for handle in self.handles() {
                    handle.default_session(None);
                }
                ("sessionend", object(&[("id", session_id.as_str().into()), ("reason", reason.as_str().into())]))
            }
            TabEvent::BackendError { detail } => {
                web_sys::console::warn_1(&format!("tabworker client: the backend worker failed: {detail}").into());
                ("backenderror", object(&[("detail", detail.into())]))
            }
            TabEvent::Settled { call, outcome } => return self.settle(call, outcome),
            TabEvent::StatusUpdate { subscription, state } => return self.status_update(subscription, &state),
        };
        let init = web_sys::CustomEventInit::new();
        init.set_detail(&detail);
        if let Ok(event) = web_sys::CustomEvent::new_with_event_init_dict(kind, &init) {
            // Listeners run now; their exceptions are reported, not thrown here.
            let _ = self.events.dispatch_event(&event);
        }
    }

    fn shut_down(self: &Rc<Self>) {
        if self.state.borrow().destroyed {
            return;
        }
        self.tab.borrow_mut().destroy(now());
        self.pump();
        self.timer.disarm();
        self.shut_down_keyed();
        self.promises.borrow_mut().clear();
        let waiters = {
            let mut state = self.state.borrow_mut();
            state.destroyed = true;
            state.locks.clear();
            state.coordinator_listeners.clear();
            if let Some(port) = state.coordinator.take() {
                port.close();
            }
            if let Some(worker) = state.coordinator_worker.take() {
                worker.terminate();
            }
            std::mem::take(&mut state.waiters)
        };
        let error: JsValue = TabworkerError::new(ErrorCode::NotInitialized, "the client was destroyed").into();
        for (_, reject) in waiters {
            let _ = reject.call1(&JsValue::NULL, &error);
        }
    }
}

/// Checks that the browser lets this client join, then starts joining. The
/// returned promise is the join's: it resolves when the coordinator
/// welcomed this client, and rejects when the tab says the join failed.
fn start_joining(inner: &Rc<Inner>) -> Result<js_sys::Promise, TabworkerError> {
    // No SharedWorker is `Mode::Isolated`, not an error; no Web Locks is.
    let features = Features::detect();
    if !features.web_locks {
        return Err(TabworkerError::new(
            ErrorCode::WebLocksUnavailable,
            "navigator.locks is missing: Web Locks need a secure context (https or localhost)",
        ));
    }
    // The locks are asked for first: `hello` waits for the tab lock (the
    // coordinator waits on that lock after `hello`), and the grants take
    // about as long as the connection, which opens meanwhile.
    let call = inner.tab.borrow_mut().join(now());
    inner.pump();
    inner.connect_coordinator()?;
    // Only now is anyone to hear of the join: a join that could not start
    // leaves no promise behind to reject unheard.
    Ok(inner.promise(call))
}
