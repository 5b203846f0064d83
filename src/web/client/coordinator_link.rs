//! A client's connection to its coordinator: the port of the app's
//! SharedWorker, or — in a browser without one (`Mode::Isolated`) — the port
//! of the tab's own coordinator in a dedicated worker.

use web_sys::{MessageChannel, MessageEvent, MessagePort};

use super::super::error::{ErrorCode, TabworkerError, describe};
use super::super::runtime::listener::Listener;
use super::super::workers::WorkerSource;
use crate::tab::Mode;

/// The open connection, with its listeners.
#[derive(Default)]
pub(super) struct CoordinatorLink {
    port: Option<MessagePort>,
    listeners: Vec<Listener>,
    /// The coordinator's dedicated worker, in `Mode::Isolated`.
    worker: Option<web_sys::Worker>,
}

impl CoordinatorLink {
    /// Opens a connection to the coordinator `name` from `source`: the
    /// running SharedWorker of that name, or a new one if none runs (the old
    /// one died); its frames go to `on_message`, and a script that fails to
    /// `on_error`. An earlier connection is closed.
    pub(super) fn open(
        &mut self,
        source: &WorkerSource,
        mode: Mode,
        name: &str,
        on_message: impl FnMut(MessageEvent) + 'static,
        on_error: impl FnMut(web_sys::Event) + 'static,
    ) -> Result<(), TabworkerError> {
        let unavailable = |e: String| TabworkerError::new(ErrorCode::CoordinatorUnavailable, e);
        let (port, worker): (MessagePort, web_sys::EventTarget) = match mode {
            Mode::Shared => {
                let worker = source.shared_worker(name).map_err(unavailable)?;
                (worker.port(), worker.into())
            }
            Mode::Isolated => {
                // Its own coordinator, in a dedicated worker, reached on a channel's port.
                let worker = source.worker(name).map_err(unavailable)?;
                let channel = MessageChannel::new().map_err(|e| unavailable(describe(&e)))?;
                let transfer = js_sys::Array::of1(&channel.port2());
                worker
                    .post_message_with_transfer(&"tabworker:connect".into(), &transfer)
                    .map_err(|e| unavailable(describe(&e)))?;
                if let Some(old) = self.worker.replace(worker.clone()) {
                    old.terminate();
                }
                (channel.port1(), worker.into())
            }
        };
        self.listeners = vec![Listener::new(&port, "message", on_message), Listener::new(&worker, "error", on_error)];
        port.start();
        if let Some(old) = self.port.replace(port) {
            old.close();
        }
        Ok(())
    }

    /// The open connection's port.
    pub(super) fn port(&self) -> Option<MessagePort> {
        self.port.clone()
    }

    /// Whether a connection was opened.
    pub(super) fn is_open(&self) -> bool {
        self.port.is_some()
    }

    /// Closes the connection (and the tab's own coordinator, if it has one).
    pub(super) fn close(&mut self) {
        self.listeners.clear();
        if let Some(port) = self.port.take() {
            port.close();
        }
        if let Some(worker) = self.worker.take() {
            worker.terminate();
        }
    }
}
