//! The coordinator host: runs [`Coordinator`] in the app's SharedWorker.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, MessagePort};

use super::codec::to_js;
use super::error::{ErrorCode, TabworkerError};
use super::listener::Listener;
use super::random_id;
use crate::coordinator::{ConnId, Coordinator, CoordinatorOutput};
use crate::ids::CoordinatorId;
use crate::protocol::{TabToCoordinator, WireMessage, decode, frame};

struct Host {
    core: Coordinator,
    ports: BTreeMap<ConnId, (MessagePort, Listener)>,
    next_conn: u64,
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
/// later ones are accepted as they come.
#[wasm_bindgen(js_name = runCoordinator)]
pub fn run_coordinator(early_ports: Option<Vec<MessagePort>>) -> Result<CoordinatorHandle, TabworkerError> {
    let scope = js_sys::global().dyn_into::<web_sys::SharedWorkerGlobalScope>().map_err(|_| {
        TabworkerError::new(ErrorCode::InvalidArgument, "runCoordinator() must be called in a SharedWorker")
    })?;
    let mut handle = CoordinatorHandle::new(random_id());
    let weak = Rc::downgrade(&handle.host);
    handle._connect = Some(Listener::new(&scope, "connect", move |event: MessageEvent| {
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
    fn new(id: CoordinatorId) -> CoordinatorHandle {
        let host = Host { core: Coordinator::new(id), ports: BTreeMap::new(), next_conn: 0 };
        CoordinatorHandle { host: Rc::new(RefCell::new(host)), _connect: None }
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
}

fn accept(host: &Rc<RefCell<Host>>, port: MessagePort) {
    let mut h = host.borrow_mut();
    let conn = ConnId(h.next_conn);
    h.next_conn += 1;
    let weak: Weak<RefCell<Host>> = Rc::downgrade(host);
    let listener = Listener::new(&port, "message", move |event: MessageEvent| {
        if let Some(host) = weak.upgrade() {
            on_message(&host, conn, event);
        }
    });
    port.start();
    h.core.connect(conn);
    h.ports.insert(conn, (port, listener));
}

fn on_message(host: &Rc<RefCell<Host>>, from: ConnId, event: MessageEvent) {
    let ports = event.ports();
    let frame_result = decode::<TabToCoordinator>(&event.data(), ports.length() as usize);
    if let Err(error) = &frame_result {
        web_sys::console::warn_1(&format!("tabworker coordinator: refused a frame ({}): {error}", error.code()).into());
    }
    // The one port of a `provide-port`, passed on to the requester.
    let mut carried = if frame_result.as_ref().is_ok_and(|m| m.ports() == 1) {
        ports.get(0).dyn_into::<MessagePort>().ok()
    } else {
        None
    };
    let mut h = host.borrow_mut();
    h.core.handle(from, frame_result);
    while let Some(output) = h.core.poll_output() {
        match output {
            CoordinatorOutput::Send { to, message } => {
                let Some((port, _)) = h.ports.get(&to) else { continue };
                let transfer = js_sys::Array::new();
                if message.ports() == 1 {
                    match carried.take() {
                        Some(carried) => transfer.push(&carried),
                        None => continue,
                    };
                }
                match to_js(&frame(&message)) {
                    Ok(data) => {
                        if let Err(e) = port.post_message_with_transferable(&data, &transfer) {
                            web_sys::console::warn_2(&"tabworker coordinator: postMessage failed".into(), &e);
                        }
                    }
                    Err(e) => web_sys::console::warn_1(&format!("tabworker coordinator: {e}").into()),
                }
            }
            CoordinatorOutput::Close { conn } => {
                if let Some((port, _listener)) = h.ports.remove(&conn) {
                    port.close();
                }
            }
        }
    }
    if let Some(unrouted) = carried {
        unrouted.close();
    }
}
