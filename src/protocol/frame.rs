//! A frame: one message of one direction, with the protocol version beside
//! its fields; how it is written and how it is read back, refusing anything
//! else with a typed [`DecodeError`].

use crate::model::bounds;
use crate::model::code::ErrorCode;
use crate::model::value::{Fields, FromValue, Number, Record, ToValue, Value, ValueError, number_text};

/// The protocol version this build speaks. Contexts that speak another one
/// refuse each other's frames with [`DecodeError::ProtocolMismatch`].
pub const PROTOCOL_VERSION: u32 = 1;

/// This build's fingerprint, sent in the handshake so that tabs of two
/// deployed versions can tell each other apart.
pub const BUILD: &str = concat!("tabworker/", env!("CARGO_PKG_VERSION"));

/// The fingerprint of a deployment: this build of tabworker, its protocol
/// version, and the app's own build id if it gives one. Tabs of one
/// fingerprint share a coordinator, a leader and backends; tabs of two never
/// do (see [`crate::AppName::deployed`]).
pub fn fingerprint(app_build: Option<&str>) -> String {
    match app_build {
        Some(build) => format!("{BUILD}/p{PROTOCOL_VERSION}+{build}"),
        None => format!("{BUILD}/p{PROTOCOL_VERSION}"),
    }
}

/// A message of one direction of the protocol.
pub trait WireMessage: ToValue + FromValue {
    /// The message's `type`, as it travels.
    fn kind(&self) -> &'static str;

    /// How many `MessagePort`s travel with it.
    fn ports(&self) -> usize {
        0
    }

    /// Refuses a message whose text is past what a context keeps of
    /// another's: a key, a liveness key, a connect (see `limits`).
    fn check(&self) -> Result<(), ValueError> {
        Ok(())
    }
}

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not an object with a numeric `protocol` field.
    #[error("not a tabworker frame: {detail}")]
    NotAFrame {
        /// What was wrong.
        detail: String,
    },
    /// A frame of another protocol version.
    #[error("the sender speaks tabworker protocol {found}, this build speaks {supported}")]
    ProtocolMismatch {
        /// The sender's version.
        found: u64,
        /// This build's version.
        supported: u32,
    },
    /// A frame of this version whose message is unknown or malformed.
    #[error("malformed message: {detail}")]
    Malformed {
        /// What was wrong, and in which field.
        detail: String,
    },
    /// A well-formed message with the wrong number of ports beside it.
    #[error("`{kind}` carries {expected} port(s) but {found} arrived")]
    PortCount {
        /// The message's `type`.
        kind: &'static str,
        /// How many it carries.
        expected: usize,
        /// How many arrived.
        found: usize,
    },
}

impl DecodeError {
    /// A stable code for this error, for callers to branch on.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::NotAFrame { .. } => ErrorCode::NotAFrame,
            DecodeError::ProtocolMismatch { .. } => ErrorCode::ProtocolMismatch,
            DecodeError::Malformed { .. } => ErrorCode::Malformed,
            DecodeError::PortCount { .. } => ErrorCode::PortCount,
        }
    }
}

/// Decodes a frame that arrived with `ports` ports beside it. A frame past
/// the bounds of its depth, its keys per object and its fields in all
/// (`MAX_DEPTH`, `MAX_OBJECT_KEYS`, `MAX_FRAME_FIELDS`) is refused as
/// malformed.
pub fn decode<T: WireMessage>(frame: &Value, ports: usize) -> Result<T, DecodeError> {
    let fields = Fields::of(frame).map_err(|_| DecodeError::NotAFrame { detail: "a frame is an object".into() })?;
    bounds::check(frame).map_err(|e| DecodeError::Malformed { detail: e.to_string() })?;
    let protocol: Number = fields.req("protocol").map_err(|e| DecodeError::NotAFrame { detail: e.to_string() })?;
    let protocol = protocol.get();
    if protocol < 0.0 || protocol.fract() != 0.0 {
        return Err(DecodeError::NotAFrame {
            detail: format!("`protocol` {} is not a version number", number_text(protocol)),
        });
    }
    // Whole and not negative: the cast only saturates a version above u64's range.
    let protocol = protocol as u64;
    if protocol != u64::from(PROTOCOL_VERSION) {
        return Err(DecodeError::ProtocolMismatch { found: protocol, supported: PROTOCOL_VERSION });
    }
    let message = T::from_value(frame).map_err(|e| DecodeError::Malformed { detail: e.to_string() })?;
    message.check().map_err(|e| DecodeError::Malformed { detail: e.to_string() })?;
    if message.ports() != ports {
        return Err(DecodeError::PortCount { kind: message.kind(), expected: message.ports(), found: ports });
    }
    Ok(message)
}

/// Decodes a frame from JSON text (or any bytes).
#[cfg(any(test, not(target_arch = "wasm32")))]
pub fn decode_json<T: WireMessage>(bytes: &[u8], ports: usize) -> Result<T, DecodeError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::NotAFrame { detail: e.to_string() })?;
    decode(&value.into(), ports)
}

/// `message` as a frame of this protocol version: its fields, its `type`
/// and `protocol`.
pub fn frame<T: WireMessage>(message: &T) -> Value {
    Record::new().put("protocol", &PROTOCOL_VERSION).merge(message.to_value()).done()
}
