//! The ports of the keyed sessions a tab opened: the port the grant came
//! with (the backend answers `open` on it) and the app's end of a new
//! channel, handed to the backend with `open`.

use js_sys::Promise;
use wasm_bindgen::JsValue;
use web_sys::{MessageChannel, MessageEvent, MessagePort};

use super::super::error::describe;
use super::super::runtime::frames::post_frame;
use super::super::runtime::listener::Listener;
use crate::model::ids::SessionId;
use crate::model::map::Map;
use crate::protocol::TabToBackend;

/// The browser objects of a keyed session whose port arrived.
pub(super) struct Ports {
    /// The port the grant came with; the backend answers `open` on it.
    control: MessagePort,
    /// The app's port.
    pub(super) app: MessagePort,
    /// Resolves `closed`.
    close: js_sys::Function,
    pub(super) closed: Promise,
    /// Passes the backend's answers on `control` to the tab.
    answers: Listener,
    /// Told when the session ends (the handles that follow it).
    on_close: Vec<Box<dyn FnOnce()>>,
}

impl Ports {
    /// Closes both ports, resolves `closed` and tells who asked.
    pub(super) fn close(self) {
        self.control.close();
        self.app.close();
        let _ = self.close.call0(&JsValue::NULL);
        drop(self.answers);
        for told in self.on_close {
            told();
        }
    }
}

/// The ports of each keyed session whose port arrived.
#[derive(Default)]
pub(super) struct SessionPorts(Map<SessionId, Ports>);

impl SessionPorts {
    /// Opens keyed session `session` on `control`, the port its grant came
    /// with: posts `message` on it with the backend's end of a new channel;
    /// the backend's answers go to `on_answer`. Why it could not, if so.
    pub(super) fn open(
        &mut self,
        session: SessionId,
        control: Option<MessagePort>,
        message: &TabToBackend,
        on_answer: impl FnMut(MessageEvent) + 'static,
    ) -> Result<(), String> {
        let (control, channel) = match (control, MessageChannel::new()) {
            (Some(control), Ok(channel)) => (control, channel),
            (control, channel) => {
                if let Some(control) = control {
                    control.close();
                }
                return Err(channel.err().map_or_else(|| "no port came with the grant".to_owned(), |e| describe(&e)));
            }
        };
        let mut slot = None;
        let closed = Promise::new(&mut |resolve, _| slot = Some(resolve));
        // The executor runs at once: the slot is filled.
        let Some(close) = slot else { return Err("no promise".into()) };
        let answers = Listener::new(&control, "message", on_answer);
        control.start();
        let sent = post_frame("client", &control, message, Some(&channel.port2()));
        let ports = Ports { control, app: channel.port1(), close, closed, answers, on_close: Vec::new() };
        self.0.insert(session, ports);
        if sent {
            Ok(())
        } else {
            Err("`open` could not be posted on the session's port (the console says why)".into())
        }
    }

    /// The session's app port and `closed` promise, if it is open.
    pub(super) fn get(&self, session: &SessionId) -> Option<&Ports> {
        self.0.get(session)
    }

    /// `told` is called when the session ends; its app port, if it is open.
    pub(super) fn on_close(&mut self, session: &SessionId, told: Box<dyn FnOnce()>) -> Option<MessagePort> {
        let ports = self.0.get_mut(session)?;
        ports.on_close.push(told);
        Some(ports.app.clone())
    }

    /// Takes the session's ports out, for [`Ports::close`] (once no borrow is held).
    pub(super) fn remove(&mut self, session: &SessionId) -> Option<Ports> {
        self.0.remove(session)
    }

    /// Takes every session's ports out.
    pub(super) fn take_all(&mut self) -> Vec<Ports> {
        std::mem::take(&mut self.0).into_values().collect()
    }
}
