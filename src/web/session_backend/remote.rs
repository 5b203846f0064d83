//! A `SessionBackend`'s link to a backend in a Plane cluster: the status
//! stream (an `EventSource` on Plane's `status-stream`) and one session, a
//! WebSocket through Plane's proxy carrying the channel frames as JSON.
//! Nothing here goes through the coordinator or the leader: closing any
//! tab changes nothing for a remote backend. The rules are the handle's
//! ([`Handle`](crate::channel::Handle): when the socket opens again, when
//! the stream stops) and [`status::state`]'s (what Plane says).

use wasm_bindgen::prelude::*;
use web_sys::{EventSource, MessageEvent, WebSocket};

use super::super::error::describe;
use super::super::runtime::channel::{Payload, frame_text};
use super::super::runtime::codec::from_js;
use super::super::runtime::listener::Listener;
use crate::channel::ChannelFrame;
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

    /// Whether a socket is open or opening.
    pub(super) fn has_socket(&self) -> bool {
        self.socket.is_some()
    }

    /// Opens the session's socket at `url`: it tells `on_open` when it
    /// opens, `on_frame` each message (read as JSON) and `on_close` when it
    /// closed (it is let go of first).
    pub(super) fn open_socket(
        &mut self,
        url: &str,
        mut on_open: impl FnMut() + 'static,
        mut on_frame: impl FnMut(JsValue) + 'static,
        on_close: impl FnMut() + 'static,
    ) -> Result<(), String> {
        let socket = WebSocket::new(url).map_err(|e| format!("cannot open {url}: {}", describe(&e)))?;
        let open = Listener::new(&socket, "open", move |_: web_sys::Event| on_open());
        let message = Listener::new(&socket, "message", move |event: MessageEvent| {
            match event.data().as_string().map(|text| js_sys::JSON::parse(&text)) {
                Some(Ok(frame)) => on_frame(frame),
                _ => web_sys::console::warn_1(&"tabworker: the remote backend sent a frame that is not JSON".into()),
            }
        });
        let on_close = std::cell::RefCell::new(on_close);
        let close = Listener::new(&socket, "close", move |_: web_sys::Event| (on_close.borrow_mut())());
        self.socket = Some((socket, [open, message, close]));
        Ok(())
    }

    /// The socket closed: it is let go of.
    pub(super) fn socket_closed(&mut self) {
        self.socket = None;
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
