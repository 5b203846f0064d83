//! The backend worker side: `serveBackend(handler)` runs [`BackendHost`] in
//! a dedicated worker spawned by the leader tab, and hands each session to
//! the app's handler.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageChannel, MessageEvent, MessagePort};

use super::codec::to_js;
use super::error::{ErrorCode, TabworkerError, describe};
use super::listener::Listener;
use super::lock_table::LockTable;
use super::{object, random_id};
use crate::backend_host::{BackendHost, BackendOutput};
use crate::ids::SessionId;
use crate::protocol::{LeaderToBackend, PortRequest, WireMessage, decode, frame};

#[wasm_bindgen]
extern "C" {
    /// `(session: BackendSession) => void | Promise<void>` in TypeScript.
    #[wasm_bindgen(typescript_type = "BackendHandler")]
    pub type BackendHandlerJs;
}

struct OpenSession {
    port: MessagePort,
    close: js_sys::Function,
}

struct Host {
    core: BackendHost,
    scope: DedicatedWorkerGlobalScope,
    handler: js_sys::Function,
    locks: LockTable,
    sessions: BTreeMap<SessionId, OpenSession>,
    /// The far end of the channel opened last, on its way to the leader.
    carried: Option<MessagePort>,
    worker_id: String,
}

/// The running backend host. It serves for as long as this value lives;
/// keep it in a module-level binding of the worker script.
#[wasm_bindgen]
pub struct BackendHandle {
    host: Rc<RefCell<Host>>,
    _message: Listener,
}

/// Serves sessions in the calling dedicated worker (started by a leader tab
/// as the app's backend): `handler` is called with each session — the
/// client it is for, its own `MessagePort`, and a promise that resolves when
/// the session ends (its tab closed or moved on).
#[wasm_bindgen(js_name = serveBackend)]
pub fn serve_backend(handler: BackendHandlerJs) -> Result<BackendHandle, TabworkerError> {
    let scope = js_sys::global().dyn_into::<DedicatedWorkerGlobalScope>().map_err(|_| {
        TabworkerError::new(ErrorCode::InvalidArgument, "serveBackend() must be called in a dedicated worker")
    })?;
    let handler = handler
        .dyn_into::<js_sys::Function>()
        .map_err(|_| TabworkerError::new(ErrorCode::InvalidArgument, "serveBackend(handler) needs a function"))?;
    let worker_id: String = random_id();
    let host = Rc::new(RefCell::new(Host {
        core: BackendHost::new(worker_id.clone()),
        scope: scope.clone(),
        handler,
        locks: LockTable::default(),
        sessions: BTreeMap::new(),
        carried: None,
        worker_id,
    }));
    let weak = Rc::downgrade(&host);
    let message = Listener::new(&scope, "message", move |event: MessageEvent| {
        if let Some(host) = weak.upgrade() {
            let frame = decode::<LeaderToBackend>(&event.data(), event.ports().length() as usize);
            if let Err(error) = &frame {
                web_sys::console::warn_1(
                    &format!("tabworker backend: refused a frame ({}): {error}", error.code()).into(),
                );
            }
            host.borrow_mut().core.from_leader(frame);
            pump(&host);
        }
    });
    // Says `listening`.
    pump(&host);
    Ok(BackendHandle { host, _message: message })
}

#[wasm_bindgen]
impl BackendHandle {
    /// This worker's id (its liveness lock is named after it).
    #[wasm_bindgen(getter, js_name = workerId)]
    pub fn worker_id(&self) -> String {
        self.host.borrow().worker_id.clone()
    }

    /// How many sessions are open.
    #[wasm_bindgen(getter)]
    pub fn sessions(&self) -> usize {
        self.host.borrow().sessions.len()
    }
}

fn pump(host: &Rc<RefCell<Host>>) {
    loop {
        let Some(output) = host.borrow_mut().core.poll_output() else { break };
        match output {
            BackendOutput::ToLeader(message) => {
                let h = &mut *host.borrow_mut();
                let transfer = js_sys::Array::new();
                if message.ports() == 1 {
                    if let Some(port) = h.carried.take() {
                        transfer.push(&port);
                    }
                }
                let sent = to_js(&frame(&message))
                    .map_err(|e| JsValue::from_str(&e.to_string()))
                    .and_then(|data| h.scope.post_message_with_transfer(&data, &transfer));
                if let Err(e) = sent {
                    web_sys::console::warn_2(&"tabworker backend: postMessage failed".into(), &e);
                }
            }
            BackendOutput::OpenSession(request) => open_session(host, request),
            BackendOutput::CloseSession(request) => {
                let closed = host.borrow_mut().sessions.remove(&request.session_id);
                if let Some(session) = closed {
                    let _ = session.close.call0(&JsValue::NULL);
                    session.port.close();
                }
            }
            BackendOutput::Acquire { lock, mode } => {
                let granted = match host.borrow_mut().locks.acquire(&lock, mode) {
                    Ok(granted) => granted,
                    Err(e) => {
                        web_sys::console::warn_1(&format!("tabworker backend: lock `{lock}`: {e}").into());
                        continue;
                    }
                };
                LockTable::when_granted(
                    granted,
                    Rc::downgrade(host),
                    |host, ticket| host.borrow().locks.is_current(ticket),
                    |host, lock| {
                        host.borrow_mut().core.lock_granted(lock);
                        pump(host);
                    },
                );
            }
            BackendOutput::Release { lock } => host.borrow_mut().locks.release(&lock),
        }
    }
}

/// Opens a channel: one end to the app's handler, the other to the leader.
fn open_session(host: &Rc<RefCell<Host>>, request: PortRequest) {
    let channel = match MessageChannel::new() {
        Ok(channel) => channel,
        Err(e) => return web_sys::console::warn_2(&"tabworker backend: no MessageChannel".into(), &e),
    };
    let mut close = None;
    let closed = js_sys::Promise::new(&mut |resolve, _| close = Some(resolve));
    let Some(close) = close else { return };
    let session = object(&[
        ("clientId", request.client_id.as_str().into()),
        ("sessionId", request.session_id.as_str().into()),
        ("port", channel.port1().into()),
        ("closed", closed.into()),
    ]);
    let handler = {
        let mut h = host.borrow_mut();
        h.carried = Some(channel.port2());
        h.sessions.insert(request.session_id.clone(), OpenSession { port: channel.port1(), close });
        h.handler.clone()
    };
    if let Err(e) = handler.call1(&JsValue::NULL, &session) {
        web_sys::console::error_1(&format!("tabworker backend: the session handler threw: {}", describe(&e)).into());
    }
}
