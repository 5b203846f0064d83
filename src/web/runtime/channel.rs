//! Channel frames on a session's port: an object whose `tw` field names its
//! kind (messages without one are the app's own and are left alone), its
//! payload carried untouched and, when sent, its transfer list.

use wasm_bindgen::prelude::*;
use web_sys::MessagePort;

use crate::channel::{ChannelError, ChannelFrame, Fields, KINDS, RequestId};

#[wasm_bindgen]
extern "C" {
    /// `Transferable[]` in TypeScript: what a send hands over.
    #[wasm_bindgen(typescript_type = "Transferable[]")]
    pub type TransferList;
}

/// The JavaScript strings of the frame's field names and kinds, made once
/// per thread: reading and writing a frame then copies no names.
struct Keys {
    /// `tw`: marks a channel frame and names its kind.
    tw: JsValue,
    name: JsValue,
    method: JsValue,
    caller: JsValue,
    id: JsValue,
    code: JsValue,
    message: JsValue,
    payload: JsValue,
    /// The kinds, in [`KINDS`]' order.
    kinds: [JsValue; 4],
}

/// How many event and method names [`js_name`] keeps as JavaScript strings.
const NAMES_KEPT: usize = 256;

thread_local! {
    /// Event and method names already made into JavaScript strings: an app
    /// uses a few names many times.
    static NAMES: std::cell::RefCell<crate::model::map::Map<String, JsValue>> = Default::default();
    static KEYS: Keys = Keys {
        tw: "tw".into(),
        name: "name".into(),
        method: "method".into(),
        caller: "caller".into(),
        id: "id".into(),
        code: "code".into(),
        message: "message".into(),
        payload: "payload".into(),
        kinds: KINDS.map(JsValue::from),
    };
}

/// `name` as a JavaScript string, made once for the names used most.
fn js_name(name: String) -> JsValue {
    NAMES.with(|names| {
        let mut names = names.borrow_mut();
        if let Some(js) = names.get(&name) {
            return js.clone();
        }
        if names.len() >= NAMES_KEPT {
            names.clear();
        }
        let js = JsValue::from(name.as_str());
        names.insert(name, js.clone());
        js
    })
}

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
/// Only the fields of its kind are read (each read crosses into JavaScript).
pub(crate) fn read_frame(data: &JsValue) -> Option<Result<ChannelFrame<JsValue>, ChannelError>> {
    if !data.is_object() {
        return None;
    }
    KEYS.with(|keys| {
        let get = |key: &JsValue| js_sys::Reflect::get(data, key).unwrap_or(JsValue::UNDEFINED);
        let kind = get(&keys.tw);
        if kind.is_undefined() {
            return None;
        }
        let known = keys.kinds.iter().position(|k| *k == kind).map(|i| KINDS[i]);
        let mut fields = Fields {
            kind: Some(known.map_or_else(|| kind.as_string().unwrap_or_default(), String::from)),
            ..Fields::default()
        };
        match known {
            Some("event") => fields.name = get(&keys.name).as_string(),
            Some("request") => fields.name = get(&keys.method).as_string(),
            Some("failure") => {
                fields.code = get(&keys.code).as_string();
                fields.message = get(&keys.message).as_string();
            }
            _ => {}
        }
        if known != Some("event") {
            fields.caller = get(&keys.caller).as_f64();
            fields.id = get(&keys.id).as_f64();
        }
        if known != Some("failure") {
            fields.payload = get(&keys.payload);
        }
        Some(fields.decode())
    })
}

/// `frame` as the message a port carries, with its payload's transfer list.
fn message(frame: ChannelFrame<Payload>) -> (js_sys::Object, Option<js_sys::Array>) {
    let message = js_sys::Object::new();
    let transfer = KEYS.with(|keys| {
        // Setting properties on a fresh plain object cannot fail.
        let set = |key: &JsValue, value: &JsValue| drop(js_sys::Reflect::set(&message, key, value));
        let kind = KINDS.iter().position(|k| *k == frame.kind()).map_or(&keys.kinds[0], |i| &keys.kinds[i]);
        set(&keys.tw, kind);
        let set_id = |id: RequestId| {
            set(&keys.caller, &f64::from(id.caller()).into());
            set(&keys.id, &(id.seq() as f64).into());
        };
        let payload = match frame {
            ChannelFrame::Event { name, payload } => {
                set(&keys.name, &js_name(name));
                Some(payload)
            }
            ChannelFrame::Request { id, method, payload } => {
                set_id(id);
                set(&keys.method, &js_name(method));
                Some(payload)
            }
            ChannelFrame::Result { id, payload } => {
                set_id(id);
                Some(payload)
            }
            ChannelFrame::Failure { id, code, message } => {
                set_id(id);
                set(&keys.code, &code.as_str().into());
                set(&keys.message, &message.into());
                None
            }
        };
        payload.and_then(|payload| {
            set(&keys.payload, &payload.value);
            payload.transfer
        })
    });
    (message, transfer)
}

/// Posts `frame` on `port` with its payload's transfer list; the message
/// of a failure to post (a payload that cannot be cloned).
pub(crate) fn post_channel(port: &MessagePort, frame: ChannelFrame<Payload>) -> Result<(), JsValue> {
    match message(frame) {
        (message, Some(transfer)) => port.post_message_with_transferable(&message, &transfer),
        (message, None) => port.post_message(&message),
    }
}

/// `frame` as the JSON text a remote session's WebSocket carries: the
/// message a port would carry. Refused: a transfer list (nothing is
/// transferred to another machine) and a payload `JSON.stringify` cannot write.
#[cfg(feature = "tab")]
pub(crate) fn frame_text(frame: ChannelFrame<Payload>) -> Result<String, JsValue> {
    let (message, transfer) = message(frame);
    if transfer.is_some_and(|t| t.length() > 0) {
        return Err("a remote backend's messages transfer nothing: the payload is sent as JSON".into());
    }
    let text = js_sys::JSON::stringify(&message)?;
    Ok(text.as_string().unwrap_or_default())
}

/// A transfer list given by the app: an array, or nothing.
pub(crate) fn transfer_list(value: Option<TransferList>) -> Result<Option<js_sys::Array>, String> {
    match value.map(JsValue::from) {
        None => Ok(None),
        Some(v) if v.is_undefined() || v.is_null() => Ok(None),
        Some(v) => v.dyn_into::<js_sys::Array>().map(Some).map_err(|_| "transfer must be an array".to_string()),
    }
}
