//! The ports of every session a tab has open, by session id: a keyed
//! session's (the port its grant came with, on which the backend answers
//! `open`, and the app's end of a new channel, handed to the backend with
//! `open`) and the default session's (its grant's port is the app's).

use js_sys::Promise;
use wasm_bindgen::JsValue;
use web_sys::{MessageChannel, MessageEvent, MessagePort};

use super::super::error::describe;
use super::super::runtime::frames::post_frame;
use super::super::runtime::listener::Listener;
use crate::model::ids::{BackendId, SessionId};
use crate::model::map::Map;
use crate::protocol::TabToBackend;

/// The browser objects of a session whose port arrived.
pub(super) struct Ports {
    /// A keyed session's: the port the grant came with, on which the
    /// backend answers `open`, and what passes those answers to the tab.
    control: Option<(MessagePort, Listener)>,
    /// The app's port.
    pub(super) app: MessagePort,
    /// Resolves `closed`.
    close: js_sys::Function,
    pub(super) closed: Promise,
    /// A default session's object as the app sees it (one per session,
    /// whichever way the app reaches it), and its default backend.
    pub(super) default: Option<(JsValue, Option<BackendId>)>,
    /// Told when the session ends (the handles that follow it).
    on_close: Vec<Box<dyn FnOnce()>>,
}

impl Ports {
    /// The session's ports, with its `closed` promise; `None` if the
    /// promise could not be made.
    fn new(
        control: Option<(MessagePort, Listener)>,
        app: MessagePort,
        default: Option<(JsValue, Option<BackendId>)>,
    ) -> Option<Ports> {
        let mut slot = None;
        let closed = Promise::new(&mut |resolve, _| slot = Some(resolve));
        // The executor runs at once: the slot is filled.
        Some(Ports { control, app, close: slot?, closed, default, on_close: Vec::new() })
    }

    /// Closes its ports, resolves `closed` and tells who asked.
    pub(super) fn close(self) {
        if let Some((control, answers)) = self.control {
            control.close();
            drop(answers);
        }
        self.app.close();
        let _ = self.close.call0(&JsValue::NULL);
        for told in self.on_close {
            told();
        }
    }
}

/// The ports of each session whose port arrived.
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
        let answers = Listener::new(&control, "message", on_answer);
        control.start();
        let ports = Ports::new(Some((control.clone(), answers)), channel.port1(), None).ok_or("no promise")?;
        let sent = post_frame("client", &control, message, Some(&channel.port2()));
        self.0.insert(session, ports);
        if sent {
            Ok(())
        } else {
            Err("`open` could not be posted on the session's port (the console says why)".into())
        }
    }

    /// The default session `session`, with default backend `backend`,
    /// opened on `port`; the app sees it as `js`.
    pub(super) fn open_default(
        &mut self,
        session: SessionId,
        port: MessagePort,
        js: JsValue,
        backend: Option<BackendId>,
    ) {
        if let Some(ports) = Ports::new(None, port, Some((js, backend))) {
            self.0.insert(session, ports);
        }
    }

    /// The open default session: its id, the object the app sees, and its default backend.
    pub(super) fn default(&self) -> Option<(&SessionId, &JsValue, Option<&BackendId>)> {
        self.0.iter().find_map(|(id, ports)| ports.default.as_ref().map(|(js, backend)| (id, js, backend.as_ref())))
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
