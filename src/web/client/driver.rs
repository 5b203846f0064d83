//! The page's side of a [`Tab`]: it carries the browser's events into the
//! tab (the coordinator's frames, lock grants, the hosted workers' frames,
//! the keyed sessions' answers, time) and does what the tab asks, with the
//! coordinator link, the hosted workers and the session ports as parts
//! that own their browser objects. It serves its handles (`SessionBackend`)
//! too: their deadlines on its one timer, the default sessions, and the
//! calls they make, settled in Rust values.

use std::cell::{Cell, RefCell, RefMut};
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, MessagePort};

use super::super::error::{ErrorCode, TabworkerError, describe};
use super::super::features::Features;
use super::super::options::ClientOptions;
use super::super::runtime::clock::now;
use super::super::runtime::frames::{Received, post_frame, receive};
use super::super::runtime::js::{object, random_id};
use super::super::runtime::lock_table::LockTable;
use super::super::runtime::timer::Timer;
use super::coordinator_link::CoordinatorLink;
use super::hosted::{FromWorker, Hosted, Tell};
use super::ports::SessionPorts;
use crate::model::ids::{BackendId, ClientId, CoordinatorId, SessionId};
use crate::model::locks::{LockId, LockNames};
use crate::model::map::Map;
use crate::model::status::BackendState;
use crate::model::time::Timestamp;
use crate::protocol::{BackendToTab, CoordinatorToTab, TabToBackend, WireMessage};
use crate::tab::{CallError, CallId, CallValue, Mode, SubscriptionId, Tab, TabEvent, TabOutput};

/// Who is told each state of a backend: the app's `statusStream` callback,
/// or a `SessionBackend` handle.
pub(crate) type StateListener = Rc<dyn Fn(&BackendState)>;

/// Who waits for a call's outcome.
type Then = Box<dyn FnOnce(Result<CallValue, CallError>)>;

/// A `SessionBackend` handle made in this tab: the client's one timer is
/// armed to the earliest of the tab's deadlines and theirs and tells each
/// when it fires, and each hears of the default sessions as they open (it
/// follows one's end as it follows a keyed session's).
pub(crate) trait Attached {
    /// Its earliest deadline.
    fn poll_timeout(&self) -> Option<Timestamp>;
    /// Time passed: it acts on what is due.
    fn timeout(self: Rc<Self>, now: Timestamp);
    /// Default session `session` opened, with the default backend `backend`.
    fn default_opened(self: Rc<Self>, session: &SessionId, backend: Option<BackendId>);
}

/// A random number from `crypto.randomUUID()` (122 random bits).
fn entropy() -> u128 {
    let uuid: String = random_id();
    let hex: String = uuid.chars().filter(char::is_ascii_hexdigit).collect();
    // A UUID has 32 hex digits; the fallback id of `random_id` fewer.
    u128::from_str_radix(&hex[..hex.len().min(32)], 16).unwrap_or_default()
}

/// What the page keeps beside the tab.
#[derive(Default)]
pub(super) struct State {
    locks: LockTable<LockId>,
    /// The port that came with the input being handled.
    carried: Option<MessagePort>,
    pub(super) coordinator_id: Option<CoordinatorId>,
    pub(super) destroyed: bool,
}

/// One tab's membership of an app, in the page.
pub(crate) struct ClientDriver {
    pub(super) options: ClientOptions,
    pub(super) names: LockNames,
    /// Whether the tabs share a coordinator, or this one runs alone.
    pub(super) mode: Mode,
    pub(crate) tab: RefCell<Tab>,
    pub(super) state: RefCell<State>,
    coordinator: RefCell<CoordinatorLink>,
    /// The ports of the sessions this tab has open, the default one's too.
    pub(super) sessions: RefCell<SessionPorts>,
    hosted: RefCell<Hosted>,
    /// Who is told the states of each `statusStream`.
    subscriptions: RefCell<Map<SubscriptionId, StateListener>>,
    /// Who waits for each call the tab has not settled.
    calls: RefCell<Map<CallId, Then>>,
    pub(super) events: web_sys::EventTarget,
    timer: Timer,
    pumping: Cell<bool>,
    /// The number of the last `SessionBackend` handle made.
    callers: Cell<u32>,
    /// The numbers of the requests of every handle made here.
    pub(crate) numbers: crate::channel::RequestNumbers,
    /// The handles made here.
    attached: RefCell<Vec<Weak<dyn Attached>>>,
}

impl ClientDriver {
    /// A client of `options`; nothing happens until [`ClientDriver::start_joining`].
    pub(super) fn new(options: ClientOptions) -> Result<Rc<ClientDriver>, TabworkerError> {
        let invalid =
            |e: String| TabworkerError::new(ErrorCode::InvalidArgument, format!("invalid ClientOptions: {e}"));
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
        let events = web_sys::EventTarget::new().map_err(|e| invalid(describe(&e)))?;
        Ok(Rc::new_cyclic(|weak: &Weak<ClientDriver>| {
            let weak = weak.clone();
            ClientDriver {
                tab: RefCell::new(tab),
                options,
                names,
                mode,
                state: RefCell::default(),
                coordinator: RefCell::default(),
                sessions: RefCell::default(),
                hosted: RefCell::default(),
                subscriptions: RefCell::default(),
                calls: RefCell::default(),
                events,
                timer: Timer::new(move || {
                    if let Some(driver) = weak.upgrade() {
                        driver.timeout();
                    }
                }),
                pumping: Cell::new(false),
                callers: Cell::new(0),
                numbers: crate::channel::RequestNumbers::new(),
                attached: RefCell::default(),
            }
        }))
    }

    /// Whether `initialize()` may start: once per client.
    pub(super) fn may_start(&self) -> bool {
        !self.coordinator.borrow().is_open() && !self.state.borrow().destroyed
    }

    /// Checks that the browser lets this client join, then starts joining:
    /// the join's call, settled when the coordinator welcomed this client
    /// or the join failed.
    pub(super) fn start_joining(self: &Rc<Self>) -> Result<CallId, TabworkerError> {
        // No SharedWorker is `Mode::Isolated`, not an error; no Web Locks is.
        if !Features::detect().web_locks {
            return Err(TabworkerError::new(
                ErrorCode::WebLocksUnavailable,
                "navigator.locks is missing: Web Locks need a secure context (https or localhost)",
            ));
        }
        // The locks are asked for first: `hello` waits for the tab lock (the
        // coordinator waits on that lock after `hello`), and the grants take
        // about as long as the connection, which opens meanwhile.
        let call = self.tab.borrow_mut().join(now());
        self.pump();
        self.connect_coordinator()?;
        Ok(call)
    }

    /// A number for a new `SessionBackend` handle, unique in this tab: its
    /// requests' ids carry it, so handles sharing a session never mix
    /// their answers.
    pub(crate) fn next_caller(&self) -> u32 {
        self.callers.set(self.callers.get().wrapping_add(1));
        self.callers.get()
    }

    /// Carries out what the tab asks for, until it asks for nothing, then
    /// arms the timer. Re-entered from an app's event listener, it returns
    /// at once: the outer call drains what the inner input produced.
    pub(crate) fn pump(self: &Rc<Self>) {
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

    /// The one timer fired: the tab and each handle act on what is due.
    fn timeout(self: &Rc<Self>) {
        let at = now();
        self.tab.borrow_mut().timeout(at);
        self.pump();
        for handle in self.handles() {
            handle.timeout(at);
        }
        self.arm();
    }

    /// Arms the one timer to the earliest deadline of the tab and of the
    /// handles made here.
    pub(crate) fn arm(&self) {
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
    /// now on; it is told of the open default session at once.
    pub(crate) fn attach(&self, handle: Rc<dyn Attached>) {
        self.attached.borrow_mut().push(Rc::downgrade(&handle));
        let open = self.sessions.borrow().default().map(|(id, _, backend)| (id.clone(), backend.cloned()));
        if let Some((session, backend)) = open {
            handle.default_opened(&session, backend);
        }
    }

    /// The live handles made here (forgetting those that are gone).
    fn handles(&self) -> Vec<Rc<dyn Attached>> {
        let mut attached = self.attached.borrow_mut();
        attached.retain(|d| d.strong_count() > 0);
        attached.iter().filter_map(Weak::upgrade).collect()
    }

    /// `then` is called with the outcome of `call` (perhaps in the pump this starts).
    pub(crate) fn then(self: &Rc<Self>, call: CallId, then: impl FnOnce(Result<CallValue, CallError>) + 'static) {
        self.calls.borrow_mut().insert(call, Box::new(then));
        self.pump();
    }

    /// The promise of `call`: resolved with what `value` makes of its value,
    /// or rejected with its error, when the tab settles it.
    pub(crate) fn promise(
        self: &Rc<Self>,
        call: CallId,
        value: impl FnOnce(&Rc<ClientDriver>, CallValue) -> Result<JsValue, JsValue> + 'static,
    ) -> js_sys::Promise {
        let mut slot = None;
        let promise = js_sys::Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
        // The executor runs at once: the slot is filled.
        let Some((resolve, reject)): Option<(js_sys::Function, js_sys::Function)> = slot else { return promise };
        let weak = Rc::downgrade(self);
        self.then(call, move |outcome| {
            // It is the driver that settles the call: it lives.
            let Some(driver) = weak.upgrade() else { return };
            // What the app's reactions throw is reported by the browser, not here.
            let _ = match outcome.map_err(|e| JsValue::from(TabworkerError::from(e))).and_then(|v| value(&driver, v)) {
                Ok(value) => resolve.call1(&JsValue::NULL, &value),
                Err(error) => reject.call1(&JsValue::NULL, &error),
            };
        });
        promise
    }

    /// Calls `callback` with every state of `backend` (its id or its
    /// `status_url`) once, in order, from now on; its subscription.
    pub(crate) fn watch(self: &Rc<Self>, backend: &str, callback: StateListener) -> Result<SubscriptionId, CallError> {
        let id = self.tab.borrow_mut().subscribe(backend)?;
        self.subscriptions.borrow_mut().insert(id, callback);
        self.pump();
        Ok(id)
    }

    /// Stops subscription `id`.
    pub(crate) fn unwatch(&self, id: SubscriptionId) {
        self.tab.borrow_mut().unsubscribe(id);
        self.subscriptions.borrow_mut().remove(&id);
    }

    /// `told` is called when session `session` ends; its app port, if it is open.
    pub(crate) fn follow_session(&self, session: &SessionId, told: Box<dyn FnOnce()>) -> Option<MessagePort> {
        self.sessions.borrow_mut().on_close(session, told)
    }

    /// Ends keyed session `session` (the backend sees its `closed` resolve).
    pub(crate) fn close_session(self: &Rc<Self>, session: &SessionId) {
        self.tab.borrow_mut().close_session(session);
        self.pump();
    }

    fn execute(self: &Rc<Self>, output: TabOutput) {
        match output {
            TabOutput::ToCoordinator(message) => {
                let port = self.coordinator.borrow().port();
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
            TabOutput::SpawnStandby => {
                let spawned = self.hosted.borrow_mut().spawn_standby(
                    &self.options.backend,
                    &self.names.standby_worker(),
                    self.tell(),
                );
                if let Err(detail) = spawned {
                    web_sys::console::warn_1(&format!("tabworker client: the standby worker: {detail}").into());
                    self.tab.borrow_mut().standby_error();
                }
            }
            TabOutput::AdoptStandby { backend_id } => {
                if !self.hosted.borrow_mut().adopt_standby(backend_id.clone()) {
                    let detail = "the standby worker is gone".to_owned();
                    self.tab.borrow_mut().worker_error(now(), &backend_id, detail);
                }
            }
            TabOutput::KillStandby => self.hosted.borrow_mut().kill_standby(),
            TabOutput::ToWorker { backend_id, message } => self.hosted.borrow().post(&backend_id, &message),
            TabOutput::KillWorker { backend_id } => self.hosted.borrow_mut().kill(&backend_id),
            TabOutput::OpenKeyed { session_id, message } => self.open_keyed(session_id, &message),
            TabOutput::CloseKeyed { session_id } => {
                let ended = self.sessions.borrow_mut().remove(&session_id);
                if let Some(ports) = ended {
                    ports.close();
                }
            }
            TabOutput::Lock(command) => {
                let granted = |driver: &Rc<Self>, lock: &LockId| {
                    driver.tab.borrow_mut().lock_granted(now(), lock);
                    driver.pump();
                };
                let lost = |driver: &Rc<Self>, lock: &LockId| {
                    driver.tab.borrow_mut().lock_lost(now(), lock);
                    driver.pump();
                };
                LockTable::command(self, Self::locks, command, "client", granted, lost);
            }
            TabOutput::Event(event) => self.on_event(event),
        }
    }

    /// Opens a connection to the app's coordinator.
    fn connect_coordinator(self: &Rc<Self>) -> Result<(), TabworkerError> {
        let weak = Rc::downgrade(self);
        let on_message = move |event: MessageEvent| {
            let Some(driver) = weak.upgrade() else { return };
            let Received { message, port } = receive::<CoordinatorToTab>("client", "the coordinator", &event);
            if let Ok(CoordinatorToTab::Rejected { code, detail }) = &message {
                let text = format!("tabworker client: the coordinator refused a frame ({code}): {detail}");
                web_sys::console::warn_1(&text.into());
            }
            driver.state.borrow_mut().carried = port;
            driver.tab.borrow_mut().from_coordinator(now(), message);
            driver.pump();
        };
        let weak = Rc::downgrade(self);
        let on_error = move |_: web_sys::Event| {
            let Some(driver) = weak.upgrade() else { return };
            let detail = "the coordinator script failed to load or threw".to_owned();
            driver.tab.borrow_mut().coordinator_failed(now(), detail);
            driver.pump();
        };
        let name = self.names.coordinator();
        self.coordinator.borrow_mut().open(&self.options.coordinator, self.mode, &name, on_message, on_error)
    }

    /// Where the hosted workers' words go: to the tab.
    fn tell(self: &Rc<Self>) -> Tell {
        let weak = Rc::downgrade(self);
        Rc::new(move |backend: Option<BackendId>, said: FromWorker| {
            let Some(driver) = weak.upgrade() else { return };
            match (said, backend) {
                (FromWorker::Frame(Received { message, port }), backend) => {
                    driver.state.borrow_mut().carried = port;
                    match backend {
                        Some(id) => driver.tab.borrow_mut().from_worker(now(), &id, message),
                        None => driver.tab.borrow_mut().from_standby(message),
                    }
                }
                (FromWorker::Failed(detail), Some(id)) => driver.tab.borrow_mut().worker_error(now(), &id, detail),
                (FromWorker::Failed(_), None) => driver.tab.borrow_mut().standby_error(),
            }
            driver.pump();
        })
    }

    /// Creates the worker of a backend this tab hosts: its own (the default
    /// backend, `tag` none) or a keyed backend's.
    fn spawn_worker(self: &Rc<Self>, backend_id: BackendId, tag: Option<String>) {
        let source = match &tag {
            Some(tag) => self.options.backends.get(tag).cloned(),
            None => Some(self.options.backend.clone()),
        };
        let name = self.names.backend_worker(&backend_id);
        let started = source
            .ok_or_else(|| format!("no script for tag `{}`", tag.as_deref().unwrap_or_default()))
            .and_then(|s| self.hosted.borrow_mut().spawn(&s, &name, backend_id.clone(), self.tell()));
        if let Err(detail) = started {
            web_sys::console::warn_1(&format!("tabworker client: backend `{backend_id}`: {detail}").into());
            self.tab.borrow_mut().worker_error(now(), &backend_id, detail);
        }
    }

    /// The port of keyed session `session_id` came with the input (it is
    /// `carried`): post `message` on it with the app's end of a new channel,
    /// and pass the backend's answers to the tab.
    fn open_keyed(self: &Rc<Self>, session_id: SessionId, message: &TabToBackend) {
        let control = self.state.borrow_mut().carried.take();
        let (weak, id) = (Rc::downgrade(self), session_id.clone());
        let on_answer = move |event: MessageEvent| {
            let Some(driver) = weak.upgrade() else { return };
            let Received { message, .. } = receive::<BackendToTab>("client", "a backend", &event);
            driver.tab.borrow_mut().open_answered(&id, message);
            driver.pump();
        };
        let opened = self.sessions.borrow_mut().open(session_id.clone(), control, message, on_answer);
        if let Err(detail) = opened {
            self.tab.borrow_mut().open_unsent(&session_id, detail);
        }
    }

    fn locks(&self) -> RefMut<'_, LockTable<LockId>> {
        RefMut::map(self.state.borrow_mut(), |state| &mut state.locks)
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
                let detail = object(&[
                    ("id", session_id.as_str().into()),
                    ("epoch", (epoch.get() as f64).into()),
                    ("backendId", backend_id.as_ref().map_or(JsValue::NULL, |b| b.as_str().into())),
                    ("port", port.clone().into()),
                ]);
                self.sessions.borrow_mut().open_default(session_id.clone(), port, detail.clone(), backend_id.clone());
                for handle in self.handles() {
                    handle.default_opened(&session_id, backend_id.clone());
                }
                ("session", detail)
            }
            TabEvent::Disconnected { session_id, reason } => {
                // Its handles are told as a keyed session's are, by its ports' end.
                let ended = self.sessions.borrow_mut().remove(&session_id);
                if let Some(ports) = ended {
                    ports.close();
                }
                ("sessionend", object(&[("id", session_id.as_str().into()), ("reason", reason.as_str().into())]))
            }
            TabEvent::BackendError { detail } => {
                web_sys::console::warn_1(&format!("tabworker client: the backend worker failed: {detail}").into());
                ("backenderror", object(&[("detail", detail.into())]))
            }
            TabEvent::Settled { call, outcome } => {
                let then = self.calls.borrow_mut().remove(&call);
                if let Some(then) = then {
                    then(outcome);
                }
                return;
            }
            TabEvent::StatusUpdate { subscription, state } => {
                let callback = self.subscriptions.borrow().get(&subscription).cloned();
                // A JavaScript callback that throws is reported by the browser, not here.
                if let Some(callback) = callback {
                    callback(&state);
                }
                return;
            }
        };
        let init = web_sys::CustomEventInit::new();
        init.set_detail(&detail);
        if let Ok(event) = web_sys::CustomEvent::new_with_event_init_dict(kind, &init) {
            // Listeners run now; their exceptions are reported, not thrown here.
            let _ = self.events.dispatch_event(&event);
        }
    }

    /// Leaves: the tab settles every call and ends every session, and the
    /// browser objects still held are let go.
    pub(super) fn shut_down(self: &Rc<Self>) {
        if self.state.borrow().destroyed {
            return;
        }
        self.tab.borrow_mut().destroy(now());
        self.pump();
        self.timer.disarm();
        let sessions = self.sessions.borrow_mut().take_all();
        for ports in sessions {
            ports.close();
        }
        self.hosted.borrow_mut().kill_all();
        self.calls.borrow_mut().clear();
        self.coordinator.borrow_mut().close();
        let mut state = self.state.borrow_mut();
        state.destroyed = true;
        state.locks.clear();
    }

    /// The open default session, as the app sees it.
    pub(super) fn default_session(&self) -> Option<JsValue> {
        self.sessions.borrow().default().map(|(_, js, _)| js.clone())
    }
}
