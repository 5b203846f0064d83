//! One session as a backend's code sees it: its ids and port, the events it
//! sends and listens to, and the requests it answers with the backend's
//! handlers. What a request gets (handled, refused as a duplicate or for
//! want of a handler, answered once) is the core's [`Responder`]'s call.

use crate::model::map::Map;
use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageEvent, MessagePort};

use super::super::error::{ErrorCode, TabworkerError, describe};
use super::super::runtime::callbacks::Callbacks;
use super::super::runtime::channel::{Payload, TransferList, post_channel, read_frame, transfer_list};
use super::super::runtime::codec::to_js;
use super::super::runtime::listener::Listener;
use crate::channel::{ChannelFrame, RequestId, Responder, Verdict, check_name};
use crate::model::ids::{ClientId, SessionId};
use crate::protocol::TabToBackend;

#[wasm_bindgen]
extern "C" {
    /// `(payload: unknown, session: BackendSession) => void` in TypeScript.
    #[wasm_bindgen(typescript_type = "(payload: unknown, session: BackendSession) => void")]
    pub type SessionEventListener;
    /// `() => void` in TypeScript.
    #[wasm_bindgen(typescript_type = "() => void")]
    pub type Unlisten;
}

/// What reads a session's events and requests in place of its handlers and listeners.
pub(crate) type Reader = Rc<dyn Fn(&BackendSession, ChannelFrame<JsValue>)>;

/// The backend's request handlers by method, shared by its sessions.
pub(crate) type Handlers = Rc<RefCell<Map<String, js_sys::Function>>>;

/// What a session is, as its backend's code sees it.
pub(crate) struct SessionInfo {
    pub(crate) client_id: ClientId,
    pub(crate) session_id: SessionId,
    /// Resolves when the session ends.
    pub(crate) closed: js_sys::Promise,
    /// A session opened with `open(url)`: its `open` (the connect's token, `user` and `auth`).
    pub(crate) opened: Option<TabToBackend>,
}

pub(crate) struct SessionState {
    info: SessionInfo,
    port: MessagePort,
    responder: RefCell<Responder>,
    listeners: RefCell<Callbacks>,
    handlers: Handlers,
    /// What reads the session's events and requests instead (a Rust backend's code).
    reader: RefCell<Option<Reader>>,
    message: RefCell<Option<Listener>>,
    /// The session as JavaScript holds it, given to every listener and
    /// handler (made once; dropped at close, which ends the cycle it makes).
    js: RefCell<Option<JsValue>>,
}

/// A session of this backend with one tab.
#[wasm_bindgen]
#[derive(Clone)]
pub struct BackendSession {
    state: Rc<SessionState>,
}

impl BackendSession {
    /// The session `info` on `port` (started here), answering requests with `handlers`.
    pub(crate) fn new(port: MessagePort, info: SessionInfo, handlers: Handlers) -> Self {
        let state = Rc::new(SessionState {
            info,
            port: port.clone(),
            responder: RefCell::new(Responder::new()),
            listeners: RefCell::default(),
            handlers,
            reader: RefCell::new(None),
            message: RefCell::new(None),
            js: RefCell::new(None),
        });
        let weak = Rc::downgrade(&state);
        let listener = Listener::new(&port, "message", move |event: MessageEvent| {
            if let Some(state) = weak.upgrade() {
                BackendSession { state }.on_message(&event.data());
            }
        });
        port.start();
        *state.message.borrow_mut() = Some(listener);
        let session = BackendSession { state };
        *session.state.js.borrow_mut() = Some(session.clone().into());
        session
    }

    /// The session as JavaScript sees it.
    pub(crate) fn js(&self) -> JsValue {
        self.state.js.borrow().clone().unwrap_or_else(|| self.clone().into())
    }

    /// The session ended: its listeners go, and answers still running go nowhere.
    pub(crate) fn close(&self) {
        self.state.js.borrow_mut().take();
        self.state.responder.borrow_mut().close();
        self.state.listeners.borrow_mut().clear();
        self.state.message.borrow_mut().take();
    }

    /// The `open` the session came with (a session opened with `open(url)`).
    pub(crate) fn opened(&self) -> Option<&TabToBackend> {
        self.state.info.opened.as_ref()
    }

    /// From now on `reader` reads the session's events and requests.
    pub(crate) fn read_with(&self, reader: Reader) {
        *self.state.reader.borrow_mut() = Some(reader);
    }

    /// Runs `f` with the session's responder.
    pub(crate) fn with_responder<T>(&self, f: impl FnOnce(&mut Responder) -> T) -> T {
        f(&mut self.state.responder.borrow_mut())
    }

    /// How many requests went to a handler on this session.
    pub(crate) fn handled(&self) -> u64 {
        self.state.responder.borrow().handled()
    }

    /// Posts event `name` to the tab (a broadcast's part, or `send`).
    pub(crate) fn post_event(&self, name: String, payload: Payload) -> Result<(), TabworkerError> {
        post_channel(&self.state.port, ChannelFrame::Event { name, payload })
            .map_err(|e| TabworkerError::new(ErrorCode::InvalidArgument, describe(&e)))
    }

    fn on_message(&self, data: &JsValue) {
        match read_frame(data) {
            // The app's own message, for its own listeners.
            None => {}
            Some(Err(e)) => web_sys::console::warn_1(&format!("tabworker backend: a tab sent a bad frame: {e}").into()),
            Some(Ok(frame @ (ChannelFrame::Event { .. } | ChannelFrame::Request { .. })))
                if let Some(reader) = self.state.reader.borrow().clone() =>
            {
                reader(self, frame);
            }
            Some(Ok(ChannelFrame::Event { name, payload })) => {
                let session = self.js();
                // Taken first: a listener may add or remove listeners.
                let listeners = self.state.listeners.borrow().of(&name);
                for listener in listeners {
                    if let Err(e) = listener.call2(&JsValue::NULL, &payload, &session) {
                        web_sys::console::error_1(
                            &format!("tabworker backend: listener of `{name}` threw: {}", describe(&e)).into(),
                        );
                    }
                }
            }
            Some(Ok(ChannelFrame::Request { id, method, payload })) => self.on_request(id, method, payload),
            Some(Ok(frame)) => web_sys::console::warn_1(
                &format!("tabworker backend: a tab sent a {} frame, which only backends send", frame.kind()).into(),
            ),
        }
    }

    fn on_request(&self, id: RequestId, method: String, payload: JsValue) {
        let handler = self.state.handlers.borrow().get(&method).cloned();
        let verdict = self.state.responder.borrow_mut().request(id, &method, handler.is_some());
        let (Verdict::Handle, Some(handler)) = (verdict.clone(), handler) else {
            if let Verdict::Refuse(frame) = verdict {
                self.post(frame);
            }
            return;
        };
        let returned = handler.call2(&JsValue::NULL, &payload, &self.js());
        // A handler that returned a value (not a promise) is answered at once.
        let pending = match returned {
            Ok(value) if value.is_instance_of::<js_sys::Promise>() => Ok(value),
            Ok(value) if !is_thenable(&value) => return self.answer(id, Ok(Payload::plain(value))),
            other => other,
        };
        let session = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let outcome = match pending {
                Ok(value) => JsFuture::from(js_sys::Promise::resolve(&value)).await,
                Err(thrown) => Err(thrown),
            };
            session.answer(id, outcome.map(Payload::plain));
        });
    }

    /// The handler of `id` finished: its answer goes out, if it still has somewhere to go.
    fn answer(&self, id: RequestId, outcome: Result<Payload, JsValue>) {
        let outcome = outcome.map_err(|thrown| describe(&thrown));
        let answer = self.state.responder.borrow_mut().answer(id, outcome);
        if let Some(frame) = answer {
            self.post(frame);
        }
    }

    /// Posts `frame` to the tab; an answer that cannot be sent is answered with a failure.
    pub(crate) fn post(&self, frame: ChannelFrame<Payload>) {
        let id = match &frame {
            ChannelFrame::Result { id, .. } | ChannelFrame::Failure { id, .. } => Some(*id),
            _ => None,
        };
        if let Err(e) = post_channel(&self.state.port, frame) {
            // A result that cannot be cloned: the tab still gets an answer.
            let message = format!("the handler's result cannot be sent: {}", describe(&e));
            if let Some(id) = id {
                let failure = ChannelFrame::Failure { id, code: ErrorCode::HandlerError, message };
                let _ = post_channel(&self.state.port, failure);
            }
        }
    }
}

#[wasm_bindgen]
impl BackendSession {
    /// The client (tab) the session is for.
    #[wasm_bindgen(getter, js_name = clientId)]
    pub fn client_id(&self) -> String {
        self.state.info.client_id.as_str().to_owned()
    }

    /// The connect attempt.
    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> String {
        self.state.info.session_id.as_str().to_owned()
    }

    /// The backend's end of the session's channel, for the app's own messages.
    #[wasm_bindgen(getter)]
    pub fn port(&self) -> MessagePort {
        self.state.port.clone()
    }

    /// Resolves when the session ends: its tab closed, crashed or reconnected.
    #[wasm_bindgen(getter, unchecked_return_type = "Promise<void>")]
    pub fn closed(&self) -> JsValue {
        self.state.info.closed.clone().into()
    }

    /// Sessions opened with `open(url)`: the token of their connect.
    #[wasm_bindgen(getter, unchecked_return_type = "string | undefined")]
    pub fn token(&self) -> Option<String> {
        let TabToBackend::Open { token, .. } = self.state.info.opened.as_ref()?;
        Some(token.clone())
    }

    /// Sessions opened with `open(url)`: the connect's `user`.
    #[wasm_bindgen(getter, unchecked_return_type = "string | undefined")]
    pub fn user(&self) -> Option<String> {
        let TabToBackend::Open { user, .. } = self.state.info.opened.as_ref()?;
        user.clone()
    }

    /// Sessions opened with `open(url)`: the connect's `auth`.
    #[wasm_bindgen(getter, unchecked_return_type = "Record<string, unknown> | undefined")]
    pub fn auth(&self) -> JsValue {
        match &self.state.info.opened {
            Some(TabToBackend::Open { auth: Some(auth), .. }) => to_js(auth),
            _ => JsValue::UNDEFINED,
        }
    }

    /// Sends event `event` to this session's tab, transferring `transfer`.
    pub fn send(
        &self,
        event: String,
        #[wasm_bindgen(unchecked_param_type = "unknown")] payload: JsValue,
        transfer: Option<TransferList>,
    ) -> Result<(), TabworkerError> {
        check_name("an event name", &event)?;
        let transfer = transfer_list(transfer).map_err(|e| TabworkerError::new(ErrorCode::InvalidArgument, e))?;
        self.post_event(event, Payload { value: payload, transfer })
    }

    /// Calls `listener(payload, session)` for each event `event` from this
    /// session's tab; returns the function that removes it.
    pub fn on(&self, event: String, listener: SessionEventListener) -> Result<Unlisten, TabworkerError> {
        check_name("an event name", &event)?;
        let listener: js_sys::Function = JsValue::from(listener)
            .dyn_into()
            .map_err(|_| TabworkerError::new(ErrorCode::InvalidArgument, "the listener must be a function"))?;
        let id = self.state.listeners.borrow_mut().add(event.clone(), listener);
        let weak = Rc::downgrade(&self.state);
        let remove = Closure::<dyn FnMut()>::new(move || {
            if let Some(state) = weak.upgrade() {
                state.listeners.borrow_mut().remove(&event, id);
            }
        });
        Ok(remove.into_js_value().unchecked_into())
    }
}

/// Whether `value` has a `then` method (a promise of another realm, or a thenable).
fn is_thenable(value: &JsValue) -> bool {
    value.is_object() && js_sys::Reflect::get(value, &"then".into()).is_ok_and(|then| then.is_function())
}
