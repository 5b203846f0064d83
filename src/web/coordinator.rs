//! The coordinator host: runs [`Coordinator`] in the app's SharedWorker.

use crate::model::map::Map;
use std::cell::{RefCell, RefMut};
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, MessagePort};

use super::error::{ErrorCode, TabworkerError};
use super::runtime::clock::now;
use super::runtime::frames::{Received, post_frame, receive};
use super::runtime::js::random_id;
use super::runtime::listener::Listener;
use super::runtime::lock_table::LockTable;
use super::runtime::locks::LockMode;
use super::runtime::timer::Timer;
use crate::coordinator::{Coordinator, CoordinatorOutput};
use crate::model::ids::ConnId;
use crate::model::ids::{AppName, CoordinatorId};
use crate::model::locks::LockNames;
use crate::protocol::{TabToCoordinator, WireMessage};

struct Host {
    core: Coordinator,
    /// The coordinator's liveness lock, held for its whole life; tabs wait
    /// on it to learn that it died. Until it is held, the core reads no
    /// connection (their messages wait in their ports).
    liveness: Option<super::runtime::locks::LockRequest>,
    /// Each connection's port, and its listener once the core reads it.
    ports: Map<ConnId, (MessagePort, Option<Listener>)>,
    /// The tab lock each connection's tab holds, waited on.
    watches: LockTable<ConnId>,
    next_conn: u64,
    /// Armed to the core's `poll_timeout()` after every input.
    timer: Timer,
}

/// The running coordinator. It serves for as long as this value lives; keep
/// it in a module-level binding of the SharedWorker script.
#[wasm_bindgen]
pub struct CoordinatorHandle {
    host: Rc<RefCell<Host>>,
    _connect: Option<Listener>,
}

/// Starts the coordinator in the calling SharedWorker. `earlyPorts` are the
/// ports of `connect` events that arrived before the wasm module was ready;
/// later ones are accepted as they come. The app is read from the
/// SharedWorker's name (`tabworker:<app>`, as `Client` names it) unless
/// `app` is given.
#[wasm_bindgen(js_name = runCoordinator)]
pub fn run_coordinator(
    early_ports: Option<Vec<MessagePort>>,
    app: Option<String>,
) -> Result<CoordinatorHandle, TabworkerError> {
    // A SharedWorker, whose tabs connect; or, in a browser without one, a
    // tab's own dedicated worker, to which its tab posts a port.
    let global = js_sys::global();
    let (scope, name, event): (web_sys::EventTarget, String, &str) =
        match global.dyn_into::<web_sys::SharedWorkerGlobalScope>() {
            Ok(shared) => (shared.clone().into(), shared.name(), "connect"),
            Err(global) => match global.dyn_into::<web_sys::DedicatedWorkerGlobalScope>() {
                Ok(dedicated) => (dedicated.clone().into(), dedicated.name(), "message"),
                Err(_) => {
                    let detail = "runCoordinator() must be called in a SharedWorker (or a dedicated worker)";
                    return Err(TabworkerError::new(ErrorCode::InvalidArgument, detail));
                }
            },
        };
    let names = match app {
        Some(app) => AppName::new(app).map(LockNames::new).map_err(|e| e.to_string()),
        None => LockNames::of_coordinator(&name),
    };
    let names = names.map_err(|e| TabworkerError::new(ErrorCode::InvalidArgument, e))?;
    let mut handle = CoordinatorHandle::new(random_id(), names)?;
    let weak = Rc::downgrade(&handle.host);
    handle._connect = Some(Listener::new(&scope, event, move |event: MessageEvent| {
        if let (Some(host), Ok(port)) = (weak.upgrade(), event.ports().get(0).dyn_into::<MessagePort>()) {
            accept(&host, port);
        }
    }));
    for port in early_ports.unwrap_or_default() {
        handle.accept(port);
    }
    Ok(handle)
}

#[wasm_bindgen]
impl CoordinatorHandle {
    fn new(id: CoordinatorId, names: LockNames) -> Result<CoordinatorHandle, TabworkerError> {
        let request =
            super::runtime::locks::LockRequest::new(&names.coordinator_liveness(&id), LockMode::Exclusive, false)?;
        let granted = request.granted();
        let host = Rc::new_cyclic(|weak: &Weak<RefCell<Host>>| {
            let weak = weak.clone();
            RefCell::new(Host {
                liveness: Some(request),
                core: Coordinator::new(id, names),
                ports: Map::new(),
                watches: LockTable::default(),
                next_conn: 0,
                timer: Timer::new(move || {
                    if let Some(host) = weak.upgrade() {
                        host.borrow_mut().core.timeout(now());
                        pump(&host, None);
                    }
                }),
            })
        });
        let weak = Rc::downgrade(&host);
        wasm_bindgen_futures::spawn_local(async move {
            let granted = granted.await;
            let Some(host) = weak.upgrade() else { return };
            if let Err(e) = &granted {
                web_sys::console::error_1(&format!("tabworker coordinator: no liveness lock: {e}").into());
            }
            host.borrow_mut().core.liveness_held(now());
            pump(&host, None);
        });
        Ok(CoordinatorHandle { host, _connect: None })
    }

    /// Serves one more tab on `port` (normally done for each `connect` event).
    pub fn accept(&self, port: MessagePort) {
        accept(&self.host, port);
    }

    /// This coordinator instance's id.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.host.borrow().core.id().to_string()
    }

    /// The name of the Web Lock this coordinator holds for its whole life.
    #[wasm_bindgen(getter, js_name = livenessKey)]
    pub fn liveness_key(&self) -> Option<String> {
        self.host.borrow().liveness.as_ref().map(|l| l.name().to_owned())
    }

    /// How many tabs are connected.
    #[wasm_bindgen(getter)]
    pub fn connections(&self) -> usize {
        self.host.borrow().core.connections()
    }

    /// How many frames were refused as malformed or out of order.
    #[wasm_bindgen(getter)]
    pub fn rejected(&self) -> f64 {
        self.host.borrow().core.rejected() as f64
    }

    /// The current leader's epoch, if a leader has announced itself.
    #[wasm_bindgen(getter)]
    pub fn epoch(&self) -> Option<f64> {
        self.host.borrow().core.leadership().map(|l| l.epoch.get() as f64)
    }
}

fn accept(host: &Rc<RefCell<Host>>, port: MessagePort) {
    let mut h = host.borrow_mut();
    let conn = ConnId(h.next_conn);
    h.next_conn += 1;
    h.ports.insert(conn, (port, None));
    h.core.connect(now(), conn);
    drop(h);
    // Its deadline for `hello` may be the earliest.
    pump(host, None);
}

/// Reads connection `conn` from now on.
fn listen(host: &Rc<RefCell<Host>>, conn: ConnId) {
    let weak: Weak<RefCell<Host>> = Rc::downgrade(host);
    let mut h = host.borrow_mut();
    let Some((port, listener)) = h.ports.get_mut(&conn) else { return };
    *listener = Some(Listener::new(port, "message", move |event: MessageEvent| {
        if let Some(host) = weak.upgrade() {
            on_message(&host, conn, event);
        }
    }));
    port.start();
}

fn on_message(host: &Rc<RefCell<Host>>, from: ConnId, event: MessageEvent) {
    // The one port of a `provide-port` is passed on to the requester; any
    // other is closed once the outputs are carried out.
    let Received { message, port } = receive::<TabToCoordinator>("coordinator", "a tab", &event);
    host.borrow_mut().core.handle(now(), from, message);
    pump(host, port);
}

/// Carries out what the core asks for, until it asks for nothing, then arms
/// the timer to the core's next deadline.
fn pump(host: &Rc<RefCell<Host>>, mut carried: Option<MessagePort>) {
    loop {
        let Some(output) = host.borrow_mut().core.poll_output() else { break };
        match output {
            CoordinatorOutput::Send { to, message } => {
                let h = host.borrow();
                let Some((port, _)) = h.ports.get(&to) else { continue };
                let carried = if message.ports() == 1 { carried.take() } else { None };
                post_frame("coordinator", port, &message, carried.as_ref());
            }
            CoordinatorOutput::WatchTab { conn, name, .. } => watch(host, conn, &name),
            CoordinatorOutput::Listen { conn } => listen(host, conn),
            CoordinatorOutput::Close { conn } => {
                let mut h = host.borrow_mut();
                h.watches.release(&conn);
                if let Some((port, _listener)) = h.ports.remove(&conn) {
                    port.close();
                }
            }
        }
    }
    if let Some(unrouted) = carried {
        unrouted.close();
    }
    let h = host.borrow();
    h.timer.arm(h.core.poll_timeout(), now());
}

/// Waits on a tab's lock: granted means the tab is gone.
fn watch(host: &Rc<RefCell<Host>>, conn: ConnId, name: &str) {
    LockTable::acquire_then(
        host,
        |host| RefMut::map(host.borrow_mut(), |h| &mut h.watches),
        (conn, name, LockMode::Exclusive),
        "coordinator",
        move |host, _| {
            host.borrow_mut().core.tab_gone(now(), conn);
            // `Close` releases the watch.
            pump(host, None);
        },
    );
}
