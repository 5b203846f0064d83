//! The wire protocol between tabs, the coordinator and backend workers.
//!
//! One enum per direction:
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
mod frame;

pub use backend::{Admission, BackendInit, BackendToLeader, BackendToTab, LeaderToBackend, TabToBackend};
pub use coordinator::{
    ConnectAnswer, ConnectCall, ConnectOutcome, CoordinatorToTab, LeaderClaim, Leadership, PortGrant, PortRefusal,
    PortRequest, StatusReport, TabToCoordinator, TerminateCall,
};
#[cfg(any(test, not(target_arch = "wasm32")))]
pub use frame::decode_json;
pub use frame::{BUILD, DecodeError, PROTOCOL_VERSION, WireMessage, decode, fingerprint, frame};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::code::ErrorCode;

    fn round_trip<T: WireMessage + PartialEq + std::fmt::Debug>(message: T) {
        let text = serde_json::Value::from(frame(&message)).to_string();
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
        for text in [r#"[1, "goodbye", "c1"]"#, "[1]", "1", r#""hello""#, "null"] {
            assert!(
                matches!(decode_json::<TabToCoordinator>(text.as_bytes(), 0), Err(DecodeError::NotAFrame { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn a_frame_past_the_bounds_of_its_fields_is_malformed() {
        let mut hello = serde_json::json!({"protocol": 1, "type": "hello", "client_id": "c1", "build": BUILD});
        let fields = hello.as_object_mut().unwrap();
        fields.extend((0..100_000).map(|k| (format!("k{k}"), serde_json::Value::Null)));
        let refused = decode_json::<TabToCoordinator>(hello.to_string().as_bytes(), 0);
        assert!(
            matches!(&refused, Err(DecodeError::Malformed { detail }) if detail.contains("100004 keys")),
            "{refused:?}"
        );
        let items = vec![serde_json::Value::Null; crate::model::value::MAX_FRAME_FIELDS];
        let hello = serde_json::json!({"protocol": 1, "type": "hello", "client_id": "c1", "build": BUILD, "x": items});
        let refused = decode_json::<TabToCoordinator>(hello.to_string().as_bytes(), 0);
        assert_eq!(refused.map_err(|e| e.code()), Err(ErrorCode::Malformed));
    }

    #[test]
    fn frames_carry_the_protocol_version_and_the_seed_names() {
        let message = TabToCoordinator::RequestPort(coordinator::examples::request());
        assert_eq!(
            serde_json::Value::from(frame(&message)),
            serde_json::json!({"protocol": 1, "type": "request-port", "client_id": "c1", "session_id": "s1"})
        );
    }
}
