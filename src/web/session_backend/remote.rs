//! A `SessionBackend`'s link to a backend in a Plane cluster: the status
//! stream (an `EventSource` on Plane's `status-stream`) and one session, a
//! WebSocket through Plane's proxy carrying the channel frames as JSON.
//! Nothing here goes through the coordinator or the leader: closing any
//! tab changes nothing for a remote backend. The rules are the handle's
//! ([`Handle`](crate::channel::Handle): when the socket opens again, when
//! the stream stops) and [`status::state`]'s (what Plane says).

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::{EventSource, MessageEvent, WebSocket};

use super::super::error::describe;
use super::super::runtime::channel::{Payload, frame_text};
use super::super::runtime::clock::now;
use super::super::runtime::codec::from_js;
use super::super::runtime::listener::Listener;
use super::driver::Driver;
use crate::channel::{ChannelFrame, Handle};
use crate::model::status::BackendState;
use crate::model::value::Value;
use crate::plane::status;

/// A remote backend's status stream and socket, while they are open.
#[derive(Default)]
pub(super) struct RemoteLink {
    stream: Option<(EventSource, Listener)>,
    /// The session's socket while it is open or opening, with its listeners.
    socket: Option<(WebSocket, [Listener; 3])>,
}

impl RemoteLink {
    /// Follows Plane's status stream at `url`: each state it names goes to `on_state`.
    pub(super) fn open_stream(&mut self, url: &str, on_state: impl Fn(BackendState) + 'static) -> Result<(), String> {
        let stream = EventSource::new(url).map_err(|e| describe(&e))?;
        let listener = Listener::new(&stream, "message", move |event: MessageEvent| {
            let text = event.data().as_string().unwrap_or_default();
            let state = js_sys::JSON::parse(&text)
                .map_err(|e| describe(&e))
                .and_then(|json| from_js::<Value>(json).map_err(|e| e.to_string()))
                .and_then(|entry| status::state(&entry).map_err(|e| e.to_string()));
            match state {
                Ok(state) => on_state(state),
                Err(e) => {
                    web_sys::console::warn_1(&format!("tabworker: Plane sent a status that is not one: {e}").into())
                }
            }
        });
        self.stream = Some((stream, listener));
        Ok(())
    }

    /// Stops following the status stream (nor does the browser reconnect it).
    pub(super) fn close_stream(&mut self) {
        if let Some((stream, _listener)) = self.stream.take() {
            stream.close();
        }
    }

    /// Opens the session's socket at `url` for `driver`, unless one is open.
    pub(super) fn open_socket(driver: &Rc<Driver>, url: &str) {
        if driver.remote().borrow().socket.is_some() {
            return;
        }
        let socket = match WebSocket::new(url) {
            Ok(socket) => socket,
            Err(e) => {
                web_sys::console::warn_1(&format!("tabworker: cannot open {url}: {}", describe(&e)).into());
                return drop(driver.input(|handle| handle.socket_closed(now())));
            }
        };
        let weak = Rc::downgrade(driver);
        let open = Listener::new(&socket, "open", move |_: web_sys::Event| {
            if let Some(driver) = weak.upgrade() {
                driver.input(Handle::opened);
            }
        });
        let weak = Rc::downgrade(driver);
        let message = Listener::new(&socket, "message", move |event: MessageEvent| {
            let Some(driver) = weak.upgrade() else { return };
            match event.data().as_string().map(|text| js_sys::JSON::parse(&text)) {
                Some(Ok(frame)) => driver.on_message(&frame),
                _ => web_sys::console::warn_1(&"tabworker: the remote backend sent a frame that is not JSON".into()),
            }
        });
        let weak = Rc::downgrade(driver);
        let close = Listener::new(&socket, "close", move |_: web_sys::Event| {
            if let Some(driver) = weak.upgrade() {
                driver.remote().borrow_mut().socket = None;
                driver.input(|handle| handle.socket_closed(now()));
            }
        });
        driver.remote().borrow_mut().socket = Some((socket, [open, message, close]));
    }

    /// Sends `frame` on the open socket: `None` when no socket is open.
    pub(super) fn send(&self, frame: ChannelFrame<Payload>) -> Option<Result<(), JsValue>> {
        let (socket, _) = self.socket.as_ref()?;
        if socket.ready_state() != WebSocket::OPEN {
            return None;
        }
        Some(frame_text(frame).and_then(|text| socket.send_with_str(&text)))
    }

    /// Stops following: the stream and the socket are closed.
    pub(super) fn close(&mut self) {
        self.close_stream();
        if let Some((socket, _listeners)) = self.socket.take() {
            let _ = socket.close();
        }
    }
}
