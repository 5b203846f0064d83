//! The wire protocol between tabs, the coordinator and backend workers.
//!
//! One serde enum per direction:
//!
//! | from → to | enum |
//! | --- | --- |
//! | tab → coordinator | [`TabToCoordinator`] |
//! | coordinator → tab | [`CoordinatorToTab`] |
//! | leader → backend worker | [`LeaderToBackend`] |
//! | backend worker → leader | [`BackendToLeader`] |
//! | tab → keyed backend, on a session's port | [`TabToBackend`] |
//! | keyed backend → tab, on a session's port | [`BackendToTab`] |
//!
//! Every message travels as one object, a *frame*: the message's fields, its
//! `type` (kebab-case, as the seed names it: `request-port`,
//! `provide-port`, …) and `protocol`, the [`PROTOCOL_VERSION`] of the sender.
//! `MessagePort`s ride beside the frame in the `postMessage` transfer list;
//! each message says how many it carries ([`WireMessage::ports`]) and a frame
//! that arrives with another number is refused.
//!
//! Decoding never panics: anything that is not a well-formed frame of this
//! protocol version becomes a [`DecodeError`].

mod backend;
mod coordinator;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::model::code::ErrorCode;

pub use backend::{Admission, BackendInit, BackendToLeader, BackendToTab, LeaderToBackend, TabToBackend};
pub use coordinator::{
    ConnectAnswer, ConnectCall, ConnectOutcome, CoordinatorToTab, LeaderClaim, Leadership, PortGrant, PortRefusal,
    PortRequest, StatusReport, TabToCoordinator, TerminateCall,
};

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

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: WireMessage + PartialEq + std::fmt::Debug>(message: T) {
        let text = serde_json::to_string(&frame(&message)).unwrap();
        assert_eq!(decode_json::<T>(text.as_bytes(), message.ports()), Ok(message), "{text}");
    }

    #[test]
    fn every_message_round_trips_through_a_frame() {
        coordinator::examples::to_coordinator().into_iter().for_each(round_trip);
        coordinator::examples::to_tab().into_iter().for_each(round_trip);
        backend::examples::to_backend().into_iter().for_each(round_trip);
        backend::examples::to_leader().into_iter().for_each(round_trip);
        backend::examples::to_backend_on_a_session().into_iter().for_each(round_trip);
        backend::examples::to_tab_on_a_session().into_iter().for_each(round_trip);
    }

    #[test]
    fn a_frame_is_an_object_never_an_array() {
        // serde would read `[1, "goodbye", "c1"]` field by field; frames refuse it.
        for text in [r#"[1, "goodbye", "c1"]"#, "[1]", "1", r#""hello""#, "null"] {
            assert!(
                matches!(decode_json::<TabToCoordinator>(text.as_bytes(), 0), Err(DecodeError::NotAFrame { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn frames_carry_the_protocol_version_and_the_seed_names() {
        let message = TabToCoordinator::RequestPort(coordinator::examples::request());
        assert_eq!(
            serde_json::to_value(frame(&message)).unwrap(),
            serde_json::json!({"protocol": 1, "type": "request-port", "client_id": "c1", "session_id": "s1"})
        );
    }
}
