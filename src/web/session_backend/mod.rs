//! `SessionBackend`: a tab's handle on one backend (a keyed one, from a
//! `ConnectResponse`, or the app's default backend): its lifecycle, the
//! events it sends and receives, and its requests.
//!
//! Every rule is the core's [`Handle`]: which backend it follows, what is
//! queued while no session is open, what fails when a session is lost, when
//! it ends or connects its key again. This face reads the app's arguments
//! and hands them to the handle's [`Driver`], which carries ports, promises
//! and callbacks.

mod driver;
mod remote;

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::AbortSignal;

use super::client::driver::ClientDriver;
use super::client::types::{
    ConnectBackendOptionsJs, ConnectRequestJs, ConnectResponseJs, Unsubscribe, connect_request,
};
use super::error::{ErrorCode, describe};
use super::runtime::channel::{Payload, TransferList, transfer_list};
use super::runtime::clock::now;
use super::runtime::codec::{read, to_js};
use super::runtime::js::get;
use super::runtime::listener::Listener;
use crate::channel::{BackendSettings, Handle, Link, RequestSettings};
use crate::model::connect::ConnectResponse;
use crate::model::value::FromValue;
use driver::{Driver, Pending, error, request_error};

#[wasm_bindgen]
extern "C" {
    /// `RequestOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "RequestOptions")]
    pub type RequestOptionsJs;
    /// `(payload: unknown) => void` in TypeScript.
    #[wasm_bindgen(typescript_type = "(payload: unknown) => void")]
    pub type EventCallback;
    /// `(state: BackendState) => void` in TypeScript.
    #[wasm_bindgen(typescript_type = "(state: BackendState) => void")]
    pub type StateCallback;
    /// `Promise<unknown>` in TypeScript.
    #[wasm_bindgen(typescript_type = "Promise<unknown>")]
    pub type UnknownPromise;
    /// `Promise<BackendState>` in TypeScript.
    #[wasm_bindgen(typescript_type = "Promise<BackendState>")]
    pub type ReadyPromise;
    /// `(response: ConnectResponse) => void` in TypeScript.
    #[wasm_bindgen(typescript_type = "(response: ConnectResponse) => void")]
    pub type ReconnectCallback;
}

/// A tab's handle on one backend: `client.backend(response)` for a keyed
/// backend, `client.backend()` for the app's default backend.
#[wasm_bindgen]
pub struct SessionBackend {
    driver: Rc<Driver>,
}

/// `client.backend(response)`: a handle on the backend of `response`, or
/// without it on the app's default backend.
pub(super) fn backend(
    inner: &Rc<ClientDriver>,
    response: Option<ConnectResponseJs>,
) -> Result<SessionBackend, JsValue> {
    let link = match response {
        None => Link::Default,
        Some(response) => read(&response.into())
            .and_then(|value| Link::of_response(&value))
            .map_err(|e| error(ErrorCode::InvalidArgument, format!("invalid ConnectResponse: {e}")))?,
    };
    SessionBackend::start(inner, link, false)
}

/// `client.connectBackend(request, options)`: connects, and resolves with a
/// handle on the backend that answered.
pub(super) fn connect_backend(
    inner: &Rc<ClientDriver>,
    request: ConnectRequestJs,
    options: Option<ConnectBackendOptionsJs>,
) -> js_sys::Promise {
    let request = match connect_request(request) {
        Ok(request) => request,
        Err(refused) => return js_sys::Promise::reject(&refused.into()),
    };
    let options = options.map_or(JsValue::UNDEFINED, Into::into);
    let reconnect = match read(&options).and_then(|o| BackendSettings::from_value(&o)) {
        Ok(settings) => settings.reconnect,
        Err(e) => return js_sys::Promise::reject(&error(ErrorCode::InvalidArgument, format!("invalid options: {e}"))),
    };
    let call = inner.tab.borrow_mut().connect(now(), request.clone());
    inner.promise(call, move |driver, value| match value {
        crate::tab::CallValue::Connected(response) => {
            let ConnectResponse { url, .. } = *response;
            SessionBackend::start(driver, Link::Keyed { url, request: Some(request) }, reconnect).map(JsValue::from)
        }
        _ => Err(error(ErrorCode::Malformed, "the connect was answered with no response")),
    })
}

impl SessionBackend {
    fn start(inner: &Rc<ClientDriver>, link: Link, reconnect: bool) -> Result<SessionBackend, JsValue> {
        let handle = Handle::new(link, inner.next_caller(), inner.numbers.clone(), reconnect).map_err(request_error)?;
        Ok(SessionBackend { driver: Driver::start(inner, handle) })
    }

    /// Adds `callback` to the `name` listeners of the lifecycle; with `now`,
    /// it is first called with the current state, if there is one.
    fn on_lifecycle(&self, name: &str, callback: JsValue, now: bool) -> Result<Unsubscribe, JsValue> {
        self.driver.handle.borrow().check_alive().map_err(request_error)?;
        let callback: js_sys::Function =
            callback.dyn_into().map_err(|_| error(ErrorCode::InvalidArgument, "the callback must be a function"))?;
        let current = self.driver.handle.borrow().last().filter(|_| now).map(to_js);
        if let Some(state) = current {
            let _ = callback.call1(&JsValue::NULL, &state);
        }
        Ok(self.driver.subscribe(|d| &d.lifecycle, name.into(), callback))
    }
}

#[wasm_bindgen]
impl SessionBackend {
    /// The id of the backend followed (for the default backend, the current leader's).
    #[wasm_bindgen(getter, js_name = backendId)]
    pub fn backend_id(&self) -> Option<String> {
        self.driver.handle.borrow().backend().map(ToString::to_string)
    }

    /// Where the backend runs: `'browser'` (a worker of this app's leader
    /// tab) or `'remote'` (a Plane cluster). Nothing else differs.
    #[wasm_bindgen(getter, unchecked_return_type = "'browser' | 'remote'")]
    pub fn location(&self) -> String {
        if matches!(self.driver.handle.borrow().link(), Link::Remote(_)) { "remote" } else { "browser" }.to_string()
    }

    /// Whether the backend is ready now.
    #[wasm_bindgen(js_name = isReady)]
    pub fn is_ready(&self) -> bool {
        self.driver.handle.borrow().is_ready()
    }

    /// Whether the backend ended.
    #[wasm_bindgen(js_name = isTerminated)]
    pub fn is_terminated(&self) -> bool {
        self.driver.handle.borrow().is_terminated()
    }

    /// The backend's last known state.
    #[wasm_bindgen(unchecked_return_type = "BackendState | undefined")]
    pub fn status(&self) -> JsValue {
        self.driver.handle.borrow().last().map_or(JsValue::UNDEFINED, to_js)
    }

    /// Resolves with the ready state once the backend is ready; rejects with
    /// `backend-terminated` (its `state` the final one) if it ends first,
    /// and with `destroyed` after `destroy()`.
    pub fn ready(&self) -> ReadyPromise {
        let driver = &self.driver;
        let promise =
            js_sys::Promise::new(&mut |resolve, reject| driver.ready_waiters.borrow_mut().push((resolve, reject)));
        driver.input(Handle::wait_ready);
        promise.unchecked_into()
    }

    /// Calls `callback` with the ready state when the backend is ready (at
    /// once if it is); returns the function that removes it.
    #[wasm_bindgen(js_name = onReady)]
    pub fn on_ready(&self, callback: StateCallback) -> Result<Unsubscribe, JsValue> {
        self.on_lifecycle("ready", callback.into(), self.is_ready())
    }

    /// Calls `callback` with every new state of the backend, once and in
    /// order, starting with the current one; returns the function that removes it.
    #[wasm_bindgen(js_name = onStatus)]
    pub fn on_status(&self, callback: StateCallback) -> Result<Unsubscribe, JsValue> {
        self.on_lifecycle("status", callback.into(), true)
    }

    /// Calls `callback` with the final state when the backend ends (at once
    /// if it has); returns the function that removes it.
    #[wasm_bindgen(js_name = onTerminated)]
    pub fn on_terminated(&self, callback: StateCallback) -> Result<Unsubscribe, JsValue> {
        self.on_lifecycle("terminated", callback.into(), self.is_terminated())
    }

    /// Calls `callback` with the new `ConnectResponse` each time a handle
    /// made with `connectBackend(request, { reconnect: true })` connected
    /// its key again; returns the function that removes it.
    #[wasm_bindgen(js_name = onReconnect)]
    pub fn on_reconnect(&self, callback: ReconnectCallback) -> Result<Unsubscribe, JsValue> {
        self.on_lifecycle("reconnect", callback.into(), false)
    }

    /// Sends event `event` to the backend, transferring `transfer`; queued
    /// in order while no session is open. Throws `backend-terminated` once
    /// the backend ended, `destroyed` after `destroy()`.
    pub fn send(
        &self,
        event: String,
        #[wasm_bindgen(unchecked_param_type = "unknown")] payload: JsValue,
        transfer: Option<TransferList>,
    ) -> Result<(), JsValue> {
        let transfer = transfer_list(transfer).map_err(|e| error(ErrorCode::InvalidArgument, e))?;
        let sent = self.driver.handle.borrow_mut().send(event, Payload { value: payload, transfer });
        sent.map_err(request_error)?;
        self.driver.pump().map_or(Ok(()), Err)
    }

    /// Calls `callback(payload)` for each event `event` from the backend;
    /// returns the function that removes it.
    pub fn on(&self, event: String, callback: EventCallback) -> Result<Unsubscribe, JsValue> {
        self.driver.handle.borrow().check_alive().map_err(request_error)?;
        crate::channel::check_name("an event name", &event).map_err(|e| error(ErrorCode::InvalidArgument, e.detail))?;
        let callback: js_sys::Function = JsValue::from(callback)
            .dyn_into()
            .map_err(|_| error(ErrorCode::InvalidArgument, "the listener must be a function"))?;
        Ok(self.driver.subscribe(|d| &d.events, event, callback))
    }

    /// Asks the backend's handler of `method`; resolves with its result.
    /// Rejects with `handler-error` (its message), `no-handler`, `timeout`
    /// (`options.timeoutMs`, default 30 s), `aborted` (`options.signal`),
    /// `backend-lost` (sent, and the backend was lost before it answered;
    /// with its `state`), `backend-terminated` or `destroyed`.
    pub fn request(
        &self,
        method: String,
        #[wasm_bindgen(unchecked_param_type = "unknown")] payload: JsValue,
        options: Option<RequestOptionsJs>,
    ) -> UnknownPromise {
        let driver = &self.driver;
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let (settings, signal) = match request_options(&options) {
            Ok(read) => read,
            Err(e) => return js_sys::Promise::reject(&e).unchecked_into(),
        };
        let made = driver.handle.borrow_mut().request(now(), method, Payload::plain(payload), settings.timeout_ms);
        let id = match made {
            Ok(id) => id,
            Err(failure) => return js_sys::Promise::reject(&request_error(failure)).unchecked_into(),
        };
        let abort = signal.as_ref().map(|signal| {
            let weak = Rc::downgrade(driver);
            let reason_of = signal.clone();
            Listener::new(signal, "abort", move |_: web_sys::Event| {
                if let Some(driver) = weak.upgrade() {
                    driver.input(|handle| handle.abort(id, &describe(&reason_of.reason())));
                }
            })
        });
        let promise = js_sys::Promise::new(&mut |resolve, reject| {
            driver.requests.borrow_mut().insert(id, Pending { resolve, reject, abort: None });
        });
        if let Some(pending) = driver.requests.borrow_mut().get_mut(&id) {
            pending.abort = abort;
        }
        match signal.filter(AbortSignal::aborted) {
            Some(signal) => drop(driver.input(|handle| handle.abort(id, &describe(&signal.reason())))),
            None => drop(driver.pump()),
        }
        promise.unchecked_into()
    }

    /// Stops listening, closes this handle's session (the backend goes on),
    /// and fails its pending requests and `ready()` with `destroyed`. Every
    /// later subscription throws `destroyed`.
    pub fn destroy(&self) {
        self.driver.input(Handle::destroy);
    }
}

/// A request's options: its `signal` by hand, the rest as settings.
fn request_options(options: &JsValue) -> Result<(RequestSettings, Option<AbortSignal>), JsValue> {
    let invalid = |e: String| error(ErrorCode::InvalidArgument, e);
    let signal = match get(options, "signal") {
        v if v.is_undefined() || v.is_null() => None,
        v => Some(v.dyn_into::<AbortSignal>().map_err(|_| invalid("signal must be an AbortSignal".into()))?),
    };
    let rest = if options.is_object() {
        let rest = js_sys::Object::assign(&js_sys::Object::new(), options.unchecked_ref());
        let _ = js_sys::Reflect::delete_property(&rest, &"signal".into());
        rest.into()
    } else {
        options.clone()
    };
    let settings =
        read(&rest).and_then(|rest| RequestSettings::from_value(&rest)).map_err(|e| invalid(e.to_string()))?;
    Ok((settings, signal))
}
