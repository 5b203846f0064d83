//! Channel frames as JSON text, for a session carried by a WebSocket (a
//! backend running as a native process behind Plane's proxy). The fields
//! are those of a frame on a session's port — `tw` names the kind — so a
//! tab writes the same object it would post, as JSON.

use super::frame::{ChannelError, ChannelFrame, Fields, RequestId};
use crate::model::code::ErrorCode;
use crate::model::value::{Value, from_json_text, to_json};

/// The largest frame read, in bytes of text.
pub const MAX_TEXT_BYTES: usize = 4 << 20;

fn malformed(detail: impl Into<String>) -> ChannelError {
    ChannelError { code: ErrorCode::Malformed, detail: detail.into() }
}

/// The frame `text` holds, or why it holds none (not JSON, not an object
/// with a known `tw`, a bad field, too long).
pub fn decode(text: &str) -> Result<ChannelFrame<Value>, ChannelError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(malformed(format!("a frame may hold at most {MAX_TEXT_BYTES} bytes")));
    }
    let value: Value = from_json_text(text).map_err(|e| malformed(format!("not JSON: {e}")))?;
    let Value::Object(mut fields) = value else { return Err(malformed("a frame must be a JSON object")) };
    let text =
        |fields: &crate::model::value::Object, name: &str| fields.get(name).and_then(Value::as_str).map(String::from);
    let kind = text(&fields, "tw");
    // As on a port: an event is named by `name`, a request by `method`.
    let name = text(&fields, if kind.as_deref() == Some("request") { "method" } else { "name" });
    let number = |name: &str| fields.get(name).and_then(Value::as_f64);
    let (caller, id) = (number("caller"), number("id"));
    let (code, message) = (text(&fields, "code"), text(&fields, "message"));
    let payload = fields.remove("payload").unwrap_or_default();
    Fields { kind, caller, id, name, code, message, payload }.decode()
}

/// `frame` as JSON text.
pub fn encode(frame: &ChannelFrame<Value>) -> String {
    let id_fields =
        |id: &RequestId| [("caller", Value::from(f64::from(id.caller()))), ("id", Value::from(id.seq() as f64))];
    let mut fields = vec![("tw", Value::from(frame.kind()))];
    match frame {
        ChannelFrame::Event { name, payload } => {
            fields.extend([("name", Value::from(name.as_str())), ("payload", payload.clone())]);
        }
        ChannelFrame::Request { id, method, payload } => {
            fields.extend(id_fields(id));
            fields.extend([("method", Value::from(method.as_str())), ("payload", payload.clone())]);
        }
        ChannelFrame::Result { id, payload } => {
            fields.extend(id_fields(id));
            fields.push(("payload", payload.clone()));
        }
        ChannelFrame::Failure { id, code, message } => {
            fields.extend(id_fields(id));
            fields.extend([("code", Value::from(code.as_str())), ("message", Value::from(message.as_str()))]);
        }
    }
    to_json(&Value::object(fields)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_text() {
        let id = RequestId::new(3, 9).unwrap();
        let payload = Value::object([("n", Value::from(1.5)), ("s", Value::from("x"))]);
        let frames = [
            ChannelFrame::Event { name: "count".into(), payload: payload.clone() },
            ChannelFrame::Request { id, method: "read".into(), payload: Value::Null },
            ChannelFrame::Result { id, payload },
            ChannelFrame::Failure { id, code: ErrorCode::NoHandler, message: "no handler `x`".into() },
        ];
        for frame in frames {
            assert_eq!(decode(&encode(&frame)), Ok(frame.clone()));
        }
        // What a tab writes: its port frame, as JSON.
        let tab = r#"{"tw":"request","caller":1,"id":2,"method":"read","payload":{"a":[1,2]}}"#;
        assert!(matches!(decode(tab), Ok(ChannelFrame::Request { method, .. }) if method == "read"));
        // Each kind's name is read from its own field only.
        let both = r#"{"tw":"request","caller":1,"id":2,"name":"other","method":"read"}"#;
        assert!(matches!(decode(both), Ok(ChannelFrame::Request { method, .. }) if method == "read"));
        let event = r#"{"tw":"event","name":"count","method":"read"}"#;
        assert!(matches!(decode(event), Ok(ChannelFrame::Event { name, .. }) if name == "count"));
        assert!(decode(r#"{"tw":"event","method":"read"}"#).is_err(), "an event is not named by `method`");
    }

    #[test]
    fn anything_else_is_malformed() {
        let long = format!(r#"{{"tw":"event","name":"e","payload":"{}"}}"#, "x".repeat(MAX_TEXT_BYTES));
        for bad in
            ["", "not json", "[1]", "{}", r#"{"tw":"nope"}"#, r#"{"tw":"event"}"#, r#"{"tw":"result","id":1}"#, &long]
        {
            let error = decode(bad).expect_err(bad);
            assert_eq!(error.code, ErrorCode::Malformed, "{bad}");
        }
    }
}
