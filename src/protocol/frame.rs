//! A frame: one message of one direction, with the protocol version beside
//! its fields; how it is written and how it is read back, refusing anything
//! else with a typed [`DecodeError`].

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::model::code::ErrorCode;

/// The protocol version this build speaks. Contexts that speak another one
/// refuse each other's frames with [`DecodeError::ProtocolMismatch`].
pub const PROTOCOL_VERSION: u32 = 1;

/// This build's fingerprint, sent in the handshake so that tabs of two
/// deployed versions can tell each other apart.
pub const BUILD: &str = concat!("tabworker/", env!("CARGO_PKG_VERSION"));

/// A message of one direction of the protocol.
pub trait WireMessage: Serialize + DeserializeOwned {
    /// The message's `type`, as it travels.
    fn kind(&self) -> &'static str;

    /// How many `MessagePort`s travel with it.
    fn ports(&self) -> usize {
        0
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
        /// What was wrong, as serde saw it.
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

/// Something a frame can be read from: a parsed JSON value natively, a
/// `JsValue` in the browser.
pub trait FrameSource {
    /// The reader's error.
    type Error: std::fmt::Display;

    /// Reads a `T` out of the frame.
    fn read<T: DeserializeOwned>(&self) -> Result<T, Self::Error>;

    /// Whether the frame is an object (not an array, not a primitive).
    fn is_object(&self) -> bool;
}

impl FrameSource for serde_json::Value {
    type Error = serde_json::Error;

    fn read<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(self)
    }

    fn is_object(&self) -> bool {
        self.is_object()
    }
}

#[derive(Deserialize)]
struct Header {
    protocol: u64,
}

/// Decodes a frame that arrived with `ports` ports beside it.
pub fn decode<T: WireMessage>(frame: &impl FrameSource, ports: usize) -> Result<T, DecodeError> {
    if !frame.is_object() {
        return Err(DecodeError::NotAFrame { detail: "a frame is an object".into() });
    }
    let header: Header = frame.read().map_err(|e| DecodeError::NotAFrame { detail: e.to_string() })?;
    if header.protocol != u64::from(PROTOCOL_VERSION) {
        return Err(DecodeError::ProtocolMismatch { found: header.protocol, supported: PROTOCOL_VERSION });
    }
    let message: T = frame.read().map_err(|e| DecodeError::Malformed { detail: e.to_string() })?;
    if message.ports() != ports {
        return Err(DecodeError::PortCount { kind: message.kind(), expected: message.ports(), found: ports });
    }
    Ok(message)
}

/// Decodes a frame from JSON text (or any bytes).
pub fn decode_json<T: WireMessage>(bytes: &[u8], ports: usize) -> Result<T, DecodeError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::NotAFrame { detail: e.to_string() })?;
    decode(&value, ports)
}

/// A message wrapped as a frame, ready to serialize.
#[derive(Debug, Serialize)]
pub struct Frame<'a, T> {
    protocol: u32,
    #[serde(flatten)]
    message: &'a T,
}

/// Wraps `message` as a frame of this protocol version.
pub fn frame<T: WireMessage>(message: &T) -> Frame<'_, T> {
    Frame { protocol: PROTOCOL_VERSION, message }
}
