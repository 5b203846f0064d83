//! Frames in and out of a browser context: a message posted as a frame with
//! the port it carries, and a `message` event decoded with its ports.
//! Whatever fails is said on the console in the name of the role that
//! posted or received it, never thrown: the other side's bad frame must not
//! stop this one.

use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent, MessagePort, Worker};

use super::codec::{read, to_js};
use crate::protocol::{DecodeError, WireMessage, decode, frame};

/// Something a frame can be posted to.
pub(crate) trait Postbox {
    /// `postMessage(data, transfer)`.
    fn post(&self, data: &JsValue, transfer: &js_sys::Array) -> Result<(), JsValue>;
}

impl Postbox for MessagePort {
    fn post(&self, data: &JsValue, transfer: &js_sys::Array) -> Result<(), JsValue> {
        self.post_message_with_transferable(data, transfer)
    }
}

impl Postbox for Worker {
    fn post(&self, data: &JsValue, transfer: &js_sys::Array) -> Result<(), JsValue> {
        self.post_message_with_transfer(data, transfer)
    }
}

impl Postbox for DedicatedWorkerGlobalScope {
    fn post(&self, data: &JsValue, transfer: &js_sys::Array) -> Result<(), JsValue> {
        self.post_message_with_transfer(data, transfer)
    }
}

/// Posts `message` as a frame to `to`, transferring `port` when the message
/// carries one. A message that should carry a port but has none is not
/// posted. Returns whether it was posted; `who` names the poster on the
/// console.
pub(crate) fn post_frame<T: WireMessage>(
    who: &str,
    to: &impl Postbox,
    message: &T,
    port: Option<&MessagePort>,
) -> bool {
    let transfer = js_sys::Array::new();
    if message.ports() == 1 {
        match port {
            Some(port) => drop(transfer.push(port)),
            None => {
                web_sys::console::warn_1(&format!("tabworker {who}: `{}` has no port to carry", message.kind()).into());
                return false;
            }
        }
    }
    let posted = to.post(&to_js(&frame(message)), &transfer);
    if let Err(e) = &posted {
        web_sys::console::warn_2(&format!("tabworker {who}: posting `{}` failed", message.kind()).into(), e);
    }
    posted.is_ok()
}

/// A frame received: the message (or why it was refused) and the first
/// port that came with it, which the caller hands on or closes.
pub(crate) struct Received<T> {
    /// The message, decoded against the number of ports beside it.
    pub(crate) message: Result<T, DecodeError>,
    /// The first port beside the frame, if any.
    pub(crate) port: Option<MessagePort>,
}

/// Decodes the frame of `event`; a refused one is said on the console in
/// the name of `who`, receiving from `from`.
pub(crate) fn receive<T: WireMessage>(who: &str, from: &str, event: &MessageEvent) -> Received<T> {
    let ports = event.ports();
    let message = decode_js::<T>(&event.data(), ports.length() as usize);
    if let Err(error) = &message {
        let text = format!("tabworker {who}: refused a frame from {from} ({}): {error}", error.code());
        web_sys::console::warn_1(&text.into());
    }
    Received { message, port: ports.get(0).dyn_into::<MessagePort>().ok() }
}

/// Decodes a frame posted as `data` with `ports` ports beside it. Data that
/// is not plain (or nests too deep) is refused: a frame is plain data.
fn decode_js<T: WireMessage>(data: &JsValue, ports: usize) -> Result<T, DecodeError> {
    match read(data) {
        Ok(value) => decode(&value, ports),
        Err(e) if data.is_object() && !data.is_function() && !js_sys::Array::is_array(data) => {
            Err(DecodeError::Malformed { detail: e.to_string() })
        }
        Err(e) => Err(DecodeError::NotAFrame { detail: e.to_string() }),
    }
}
