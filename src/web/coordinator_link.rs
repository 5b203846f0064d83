//! A client's connection to its coordinator: the port of the app's
//! SharedWorker, or — in a browser without one (`Mode::Isolated`) — the port
//! of the tab's own coordinator in a dedicated worker; and the frames that
//! arrive on it.

use std::rc::Rc;

use web_sys::{MessageChannel, MessageEvent, MessagePort};

use super::client::Inner;
use super::error::{ErrorCode, TabworkerError, describe};
use super::runtime::clock::now;
use super::runtime::frames::{Received, receive};
use super::runtime::listener::Listener;
use crate::protocol::CoordinatorToTab;
use crate::tab::Mode;

impl Inner {
    pub(super) fn on_coordinator_message(self: &Rc<Self>, event: MessageEvent) {
        let Received { message, port } = receive::<CoordinatorToTab>("client", "the coordinator", &event);
        if let Ok(CoordinatorToTab::Rejected { code, detail }) = &message {
            let text = format!("tabworker client: the coordinator refused a frame ({code}): {detail}");
            web_sys::console::warn_1(&text.into());
        }
        self.state.borrow_mut().carried = port;
        self.tab.borrow_mut().from_coordinator(now(), message);
        self.pump();
    }

    /// Opens a connection to the app's coordinator: the running SharedWorker
    /// of the app's name, or a new one if none runs (the old one died).
    pub(super) fn connect_coordinator(self: &Rc<Self>) -> Result<(), TabworkerError> {
        let unavailable = |e: String| TabworkerError::new(ErrorCode::CoordinatorUnavailable, e);
        let source = &self.options.coordinator;
        let (port, worker): (MessagePort, web_sys::EventTarget) = match self.mode {
            Mode::Shared => {
                let worker = source.shared_worker(&self.names.coordinator()).map_err(unavailable)?;
                (worker.port(), worker.into())
            }
            Mode::Isolated => {
                // Its own coordinator, in a dedicated worker, reached on a channel's port.
                let worker = source.worker(&self.names.coordinator()).map_err(unavailable)?;
                let channel = MessageChannel::new().map_err(|e| unavailable(describe(&e)))?;
                let transfer = js_sys::Array::of1(&channel.port2());
                worker
                    .post_message_with_transfer(&"tabworker:connect".into(), &transfer)
                    .map_err(|e| unavailable(describe(&e)))?;
                if let Some(old) = self.state.borrow_mut().coordinator_worker.replace(worker.clone()) {
                    old.terminate();
                }
                (channel.port1(), worker.into())
            }
        };
        let weak = Rc::downgrade(self);
        let on_message = Listener::new(&port, "message", move |event: MessageEvent| {
            if let Some(inner) = weak.upgrade() {
                inner.on_coordinator_message(event);
            }
        });
        let weak = Rc::downgrade(self);
        let on_error = Listener::new(&worker, "error", move |_: web_sys::Event| {
            if let Some(inner) = weak.upgrade() {
                let detail = "the coordinator script failed to load or threw".to_owned();
                inner.tab.borrow_mut().coordinator_failed(now(), detail);
                inner.pump();
            }
        });
        port.start();
        let mut state = self.state.borrow_mut();
        state.coordinator_listeners = vec![on_message, on_error];
        if let Some(old) = state.coordinator.replace(port) {
            old.close();
        }
        Ok(())
    }
}
