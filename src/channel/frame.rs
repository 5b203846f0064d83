//! The frames of a session's channel, and how one is read from the fields
//! the glue finds on a message.
//!
//! The payload type `P` is whatever the runtime carries untouched (a
//! `JsValue` with its transfer list in the browser, anything in tests):
//! the core decides by the other fields only.

use std::fmt;

use crate::model::code::ErrorCode;
use crate::model::value::number_text;

/// The longest event or method name, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// The largest request id: the largest integer a JavaScript number holds exactly.
pub const MAX_REQUEST_ID: u64 = (1 << 53) - 1;

/// A request's id: the [`Caller`](super::Caller) that made it (several
/// handles in one tab may share a session) and its number there, which
/// grows with each request of that caller, whatever backend answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId {
    caller: u32,
    seq: u64,
}

impl RequestId {
    /// Request `seq` of caller `caller`, if a JavaScript number holds `seq`
    /// exactly (and it is not 0).
    pub fn new(caller: u32, seq: u64) -> Option<Self> {
        (1..=MAX_REQUEST_ID).contains(&seq).then_some(RequestId { caller, seq })
    }

    /// The caller that made it.
    pub fn caller(self) -> u32 {
        self.caller
    }

    /// Its number among the caller's requests.
    pub fn seq(self) -> u64 {
        self.seq
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.caller, self.seq)
    }
}

/// One message of a session's channel, either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelFrame<P> {
    /// An event, tab to backend or backend to tab.
    Event {
        /// The event's name.
        name: String,
        /// Its payload.
        payload: P,
    },
    /// A request, tab to backend: answered once, by a result or a failure.
    Request {
        /// Its id.
        id: RequestId,
        /// The handler it asks for.
        method: String,
        /// Its payload.
        payload: P,
    },
    /// A handler's result, backend to tab.
    Result {
        /// The request answered.
        id: RequestId,
        /// What the handler returned.
        payload: P,
    },
    /// A request that failed in the backend, backend to tab.
    Failure {
        /// The request answered.
        id: RequestId,
        /// Why: `no-handler`, `handler-error`, `duplicate-request` or `forgotten-caller`.
        code: ErrorCode,
        /// What the backend said (a thrown error's message).
        message: String,
    },
}

/// The kinds of frame, as the `kind` field names them.
pub const KINDS: [&str; 4] = ["event", "request", "result", "failure"];

impl<P> ChannelFrame<P> {
    /// The frame's `kind` field.
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelFrame::Event { .. } => KINDS[0],
            ChannelFrame::Request { .. } => KINDS[1],
            ChannelFrame::Result { .. } => KINDS[2],
            ChannelFrame::Failure { .. } => KINDS[3],
        }
    }

    /// The same frame with its payload passed through `f`.
    pub fn map<Q>(self, f: impl FnOnce(P) -> Q) -> ChannelFrame<Q> {
        match self {
            ChannelFrame::Event { name, payload } => ChannelFrame::Event { name, payload: f(payload) },
            ChannelFrame::Request { id, method, payload } => ChannelFrame::Request { id, method, payload: f(payload) },
            ChannelFrame::Result { id, payload } => ChannelFrame::Result { id, payload: f(payload) },
            ChannelFrame::Failure { id, code, message } => ChannelFrame::Failure { id, code, message },
        }
    }
}

/// The fields of a message as the glue found them: each absent or of
/// another type is `None`. [`Fields::decode`] decides whether they make a
/// frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields<P> {
    /// `kind`: one of [`KINDS`].
    pub kind: Option<String>,
    /// `caller`, a number: who made the request.
    pub caller: Option<f64>,
    /// `id`, a number: the request's number there.
    pub id: Option<f64>,
    /// `name` (events) or `method` (requests).
    pub name: Option<String>,
    /// `code` (failures).
    pub code: Option<String>,
    /// `message` (failures).
    pub message: Option<String>,
    /// `payload`, carried untouched.
    pub payload: P,
}

/// Why a message is not a channel frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelError {
    /// Always [`ErrorCode::Malformed`].
    pub code: ErrorCode,
    /// Which field was wrong.
    pub detail: String,
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl std::error::Error for ChannelError {}

fn malformed(detail: impl Into<String>) -> ChannelError {
    ChannelError { code: ErrorCode::Malformed, detail: detail.into() }
}

/// Checks an event or method name given by the app or read off a message.
pub fn check_name(what: &str, name: &str) -> Result<(), ChannelError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(malformed(format!("{what} must be 1 to {MAX_NAME_BYTES} bytes long")));
    }
    Ok(())
}

impl<P> Fields<P> {
    /// The frame these fields make, or why they make none.
    pub fn decode(self) -> Result<ChannelFrame<P>, ChannelError> {
        let kind = self.kind.ok_or_else(|| malformed("no kind"))?;
        let id = || {
            let n = self.id.ok_or_else(|| malformed(format!("a {kind} needs a numeric id")))?;
            let c = self.caller.ok_or_else(|| malformed(format!("a {kind} needs a numeric caller")))?;
            let whole = n.fract() == 0.0 && n >= 1.0 && n <= MAX_REQUEST_ID as f64;
            let caller = c.fract() == 0.0 && c >= 0.0 && c <= f64::from(u32::MAX);
            // The casts are exact: whole numbers within 2^53 and 2^32.
            let id = RequestId { caller: c as u32, seq: n as u64 };
            (whole && caller)
                .then_some(id)
                .ok_or_else(|| malformed(format!("{}.{} is not a request id", number_text(c), number_text(n))))
        };
        let name = |what: &str| {
            let name = self.name.clone().ok_or_else(|| malformed(format!("a {kind} needs a {what}")))?;
            check_name(what, &name).map(|()| name)
        };
        match kind.as_str() {
            "event" => Ok(ChannelFrame::Event { name: name("name")?, payload: self.payload }),
            "request" => Ok(ChannelFrame::Request { id: id()?, method: name("method")?, payload: self.payload }),
            "result" => Ok(ChannelFrame::Result { id: id()?, payload: self.payload }),
            "failure" => {
                let id = id()?;
                let code = self.code.as_deref().ok_or_else(|| malformed("a failure needs a code"))?;
                let code = code.parse::<ErrorCode>().map_err(|e| malformed(e.to_string()))?;
                Ok(ChannelFrame::Failure { id, code, message: self.message.unwrap_or_default() })
            }
            other => Err(malformed(format!("unknown kind `{}`", other.chars().take(32).collect::<String>()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(kind: &str) -> Fields<&'static str> {
        Fields { kind: Some(kind.into()), caller: Some(4.0), payload: "p", ..Fields::default() }
    }

    #[test]
    fn every_kind_decodes_from_its_fields() {
        let event = Fields { name: Some("chat".into()), ..fields("event") };
        assert_eq!(event.decode(), Ok(ChannelFrame::Event { name: "chat".into(), payload: "p" }));
        let request = Fields { id: Some(7.0), name: Some("add".into()), ..fields("request") };
        let id = RequestId::new(4, 7).unwrap();
        assert_eq!(request.decode(), Ok(ChannelFrame::Request { id, method: "add".into(), payload: "p" }));
        assert_eq!(
            Fields { id: Some(7.0), ..fields("result") }.decode(),
            Ok(ChannelFrame::Result { id, payload: "p" })
        );
        let failure = Fields {
            id: Some(7.0),
            code: Some("handler-error".into()),
            message: Some("boom".into()),
            ..fields("failure")
        };
        let expected = ChannelFrame::Failure { id, code: ErrorCode::HandlerError, message: "boom".into() };
        assert_eq!(failure.decode(), Ok(expected));
    }

    #[test]
    fn bad_fields_are_malformed_never_a_guess() {
        let bad = [
            Fields::default(),
            fields("nonsense"),
            fields("event"),
            Fields { name: Some(String::new()), ..fields("event") },
            Fields { name: Some("x".repeat(MAX_NAME_BYTES + 1)), ..fields("event") },
            Fields { name: Some("add".into()), ..fields("request") },
            Fields { id: Some(1.5), name: Some("add".into()), ..fields("request") },
            Fields { id: Some(0.0), name: Some("add".into()), ..fields("request") },
            Fields { id: Some(-3.0), ..fields("result") },
            Fields { id: Some(f64::NAN), ..fields("result") },
            Fields { id: Some(2f64.powi(60)), ..fields("result") },
            Fields { id: Some(1.0), ..fields("failure") },
            Fields { id: Some(1.0), caller: None, ..fields("result") },
            Fields { id: Some(1.0), caller: Some(-1.0), ..fields("result") },
            Fields { id: Some(1.0), caller: Some(2f64.powi(33)), ..fields("result") },
            Fields { id: Some(1.0), code: Some("made-up".into()), ..fields("failure") },
        ];
        for fields in bad {
            let what = format!("{fields:?}");
            let error = fields.decode().expect_err(&what);
            assert_eq!(error.code, ErrorCode::Malformed, "{what}");
        }
    }
}
