//! A `SessionBackend`'s link to a backend in a Plane cluster: the status
//! stream (an `EventSource` on Plane's `status-stream`) and one session, a
//! WebSocket through Plane's proxy carrying the channel frames as JSON.
//! Nothing here goes through the coordinator or the leader: closing any
//! tab changes nothing for a remote backend. The rules are the core's: the
//! [`Caller`](crate::channel::Caller) and [`Tracker`](crate::channel::Tracker)
//! as for a backend in the browser, [`status::state`] for what Plane says,
//! [`Reopen`] for a socket that closed while its backend goes on.

use std::rc::Rc;

use gloo_timers::callback::Timeout;
use wasm_bindgen::prelude::*;
use web_sys::{EventSource, MessageEvent, WebSocket};

use super::super::error::{ErrorCode, describe};
use super::super::runtime::channel::{Payload, frame_text};
use super::super::runtime::codec::from_js;
use super::super::runtime::listener::Listener;
use super::link::{RemoteLink, Shared, Target, error};
use crate::channel::ChannelFrame;
use crate::model::status::{BackendState, BackendStatus};
use crate::model::value::Value;
use crate::plane::remote::{Remote, Reopen};
use crate::plane::status;

impl Shared {
    /// A remote backend: its status stream, and one session opened by its socket.
    pub(super) fn follow_remote(self: &Rc<Self>, remote: &Remote) -> Result<(), JsValue> {
        if self.tracker.borrow_mut().follow(remote.backend_id.clone()) {
            let stream = EventSource::new(&remote.status_stream_url)
                .map_err(|e| error(ErrorCode::InvalidArgument, format!("status_url: {}", describe(&e))))?;
            let weak = Rc::downgrade(self);
            let listener = Listener::new(&stream, "message", move |event: MessageEvent| {
                if let Some(shared) = weak.upgrade() {
                    shared.on_plane_status(&event.data());
                }
            });
            let link =
                RemoteLink { stream: Some((stream, listener)), socket: None, reopen: Reopen::default(), timer: None };
            *self.remote.borrow_mut() = Some(link);
        }
        self.open_socket();
        Ok(())
    }

    /// One entry of Plane's status stream.
    fn on_plane_status(self: &Rc<Self>, data: &JsValue) {
        let text = data.as_string().unwrap_or_default();
        let state = js_sys::JSON::parse(&text)
            .map_err(|e| describe(&e))
            .and_then(|json| from_js::<Value>(json).map_err(|e| e.to_string()))
            .and_then(|entry| status::state(&entry).map_err(|e| e.to_string()));
        match state {
            Ok(state) => {
                let ended = state.status() == BackendStatus::Terminated;
                self.on_state(state);
                if ended {
                    // Nothing follows: the stream is not followed (nor reconnected by the browser) any more.
                    if let Some(link) = self.remote.borrow_mut().as_mut() {
                        close_stream(link);
                    }
                }
            }
            Err(e) => web_sys::console::warn_1(&format!("tabworker: Plane sent a status that is not one: {e}").into()),
        }
    }

    fn open_socket(self: &Rc<Self>) {
        let url = match (&self.target, self.remote.borrow().as_ref()) {
            (Target::Remote(remote), Some(link)) if link.socket.is_none() && !self.destroyed.get() => {
                remote.socket_url.clone()
            }
            _ => return,
        };
        let socket = match WebSocket::new(&url) {
            Ok(socket) => socket,
            Err(e) => {
                web_sys::console::warn_1(&format!("tabworker: cannot open {url}: {}", describe(&e)).into());
                return self.on_socket_closed();
            }
        };
        let weak = Rc::downgrade(self);
        let open = Listener::new(&socket, "open", move |_: web_sys::Event| {
            if let Some(shared) = weak.upgrade() {
                shared.on_socket_open();
            }
        });
        let weak = Rc::downgrade(self);
        let message = Listener::new(&socket, "message", move |event: MessageEvent| {
            if let Some(shared) = weak.upgrade() {
                match event.data().as_string().map(|text| js_sys::JSON::parse(&text)) {
                    Some(Ok(frame)) => shared.on_message(&frame),
                    _ => {
                        web_sys::console::warn_1(&"tabworker: the remote backend sent a frame that is not JSON".into())
                    }
                }
            }
        });
        let weak = Rc::downgrade(self);
        let close = Listener::new(&socket, "close", move |_: web_sys::Event| {
            if let Some(shared) = weak.upgrade() {
                shared.on_socket_closed();
            }
        });
        if let Some(link) = self.remote.borrow_mut().as_mut() {
            link.socket = Some((socket, [open, message, close]));
        }
    }

    fn on_socket_open(self: &Rc<Self>) {
        if let Some(link) = self.remote.borrow_mut().as_mut() {
            link.reopen.opened();
        }
        self.closing.borrow_mut().opened();
        self.caller.borrow_mut().opened();
        self.pump();
    }

    fn on_socket_closed(self: &Rc<Self>) {
        let last = self.tracker.borrow().last().map(BackendState::status);
        let wait = match self.remote.borrow_mut().as_mut() {
            Some(link) => {
                link.socket = None;
                link.reopen.closed(last)
            }
            None => return,
        };
        self.on_lost();
        match wait {
            Some(ms) => {
                let weak = Rc::downgrade(self);
                let timer = Timeout::new(crate::model::timers::timer_delay(ms), move || {
                    if let Some(shared) = weak.upgrade() {
                        shared.open_socket();
                    }
                });
                if let Some(link) = self.remote.borrow_mut().as_mut() {
                    link.timer = Some(timer);
                }
            }
            None => {
                let ending = self.closing.borrow_mut().closed();
                self.finish(ending);
            }
        }
    }

    /// Sends `frame` on the open socket: `None` when no socket is open.
    pub(super) fn send_remote(&self, frame: ChannelFrame<Payload>) -> Option<Result<(), JsValue>> {
        let socket = self.remote.borrow().as_ref().and_then(|l| l.socket.as_ref()).map(|(s, _)| s.clone())?;
        if socket.ready_state() != WebSocket::OPEN {
            return None;
        }
        Some(frame_text(frame).and_then(|text| socket.send_with_str(&text)))
    }

    /// Stops following: the stream and the socket are closed.
    pub(super) fn close_remote(&self) {
        let Some(mut link) = self.remote.borrow_mut().take() else { return };
        close_stream(&mut link);
        link.timer.take();
        if let Some((socket, _listeners)) = link.socket.take() {
            let _ = socket.close();
        }
    }
}

fn close_stream(link: &mut RemoteLink) {
    if let Some((stream, _listener)) = link.stream.take() {
        stream.close();
    }
}
