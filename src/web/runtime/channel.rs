//! Channel frames on a session's port: an object whose `tw` field names its
//! kind (messages without one are the app's own and are left alone), its
//! payload carried untouched and, when sent, its transfer list.

use wasm_bindgen::prelude::*;
use web_sys::MessagePort;

use super::js::object;
use crate::channel::{ChannelError, ChannelFrame, Fields, RequestId};

#[wasm_bindgen]
extern "C" {
    /// `Transferable[]` in TypeScript: what a send hands over.
    #[wasm_bindgen(typescript_type = "Transferable[]")]
    pub type TransferList;
}

/// The field that marks a channel frame and names its kind.
const KIND: &str = "tw";

/// An app's payload, with what it transfers.
#[derive(Debug, Clone)]
pub(crate) struct Payload {
    pub(crate) value: JsValue,
    pub(crate) transfer: Option<js_sys::Array>,
}

impl Payload {
    /// A payload that transfers nothing.
    pub(crate) fn plain(value: JsValue) -> Self {
        Payload { value, transfer: None }
    }
}

/// The channel frame `data` holds: `None` for a message that is not one.
pub(crate) fn read_frame(data: &JsValue) -> Option<Result<ChannelFrame<JsValue>, ChannelError>> {
    if !data.is_object() {
        return None;
    }
    let get = |name: &str| js_sys::Reflect::get(data, &name.into()).unwrap_or(JsValue::UNDEFINED);
    let kind = get(KIND);
    if kind.is_undefined() {
        return None;
    }
    let name = get("name").as_string().or_else(|| get("method").as_string());
    let fields = Fields {
        kind: kind.as_string(),
        caller: get("caller").as_f64(),
        id: get("id").as_f64(),
        name,
        code: get("code").as_string(),
        message: get("message").as_string(),
        payload: get("payload"),
    };
    Some(fields.decode())
}

/// Posts `frame` on `port` with its payload's transfer list; the message
/// of a failure to post (a payload that cannot be cloned).
pub(crate) fn post_channel(port: &MessagePort, frame: ChannelFrame<Payload>) -> Result<(), JsValue> {
    let kind = frame.kind();
    let id = |id: RequestId| vec![("caller", f64::from(id.caller()).into()), ("id", (id.seq() as f64).into())];
    let (fields, payload) = match frame {
        ChannelFrame::Event { name, payload } => (vec![("name", name.into())], Some(payload)),
        ChannelFrame::Request { id: i, method, payload } => {
            let mut fields = id(i);
            fields.push(("method", method.into()));
            (fields, Some(payload))
        }
        ChannelFrame::Result { id: i, payload } => (id(i), Some(payload)),
        ChannelFrame::Failure { id: i, code, message } => {
            let mut fields = id(i);
            fields.extend([("code", code.as_str().into()), ("message", message.into())]);
            (fields, None)
        }
    };
    let mut entries = vec![(KIND, JsValue::from(kind))];
    entries.extend(fields);
    let transfer = payload.as_ref().and_then(|p| p.transfer.clone());
    if let Some(payload) = payload {
        entries.push(("payload", payload.value));
    }
    let message = object(&entries);
    match transfer {
        Some(transfer) => port.post_message_with_transferable(&message, &transfer),
        None => port.post_message(&message),
    }
}

/// A transfer list given by the app: an array, or nothing.
pub(crate) fn transfer_list(value: Option<TransferList>) -> Result<Option<js_sys::Array>, String> {
    match value.map(JsValue::from) {
        None => Ok(None),
        Some(v) if v.is_undefined() || v.is_null() => Ok(None),
        Some(v) => v.dyn_into::<js_sys::Array>().map(Some).map_err(|_| "transfer must be an array".to_string()),
    }
}
