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
mod limits;

pub use backend::{
    Admission, BackendInit, BackendToLeader, BackendToTab, LeaderToBackend, MAX_ADMITTED_PER_TAB, TabToBackend,
};
pub use coordinator::{
    ConnectAnswer, ConnectCall, ConnectOutcome, CoordinatorToTab, LeaderClaim, Leadership, MAX_HOSTED, PortGrant,
    PortRefusal, PortRequest, StatusReport, TabToCoordinator, TerminateCall,
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

    /// `message` as a frame, then decoded: what a context receiving it reads.
    fn through<T: WireMessage>(message: &T) -> Result<T, DecodeError> {
        let text = serde_json::Value::from(frame(message)).to_string();
        decode_json::<T>(text.as_bytes(), message.ports())
    }

    fn malformed<T: WireMessage + std::fmt::Debug>(message: &T, says: &str) {
        match through(message) {
            Err(DecodeError::Malformed { detail }) => assert!(detail.contains(says), "{detail}"),
            other => panic!("{} was not refused ({says}): {other:?}", message.kind()),
        }
    }

    #[test]
    fn keys_past_256_bytes_are_refused_at_decode_in_every_frame_that_carries_one() {
        use crate::model::connect::{ConnectRequest, MAX_KEY_LEN};
        let (at, past) = ("k".repeat(MAX_KEY_LEN), "k".repeat(1 << 20));
        let connect = |key: &str| {
            let request = ConnectRequest { key: Some(key.into()), ..ConnectRequest::default() };
            coordinator::ConnectCall { request, ..coordinator::examples::call() }
        };
        assert!(through(&TabToCoordinator::Connect(Box::new(connect(&at)))).is_ok());
        malformed(&TabToCoordinator::Connect(Box::new(connect(&past))), "`request`: `key`: a key of 1048576 bytes");
        malformed(&CoordinatorToTab::Connect(Box::new(connect(&past))), "at most 256");
        let report = |key: &str| StatusReport {
            epoch: coordinator::examples::leadership().epoch,
            backend_id: crate::model::ids::BackendId::new("b1").unwrap(),
            key: key.into(),
            state: coordinator::examples::state(),
        };
        assert!(through(&TabToCoordinator::Status(report(&at))).is_ok());
        malformed(&TabToCoordinator::Status(report(&past)), "at most 256");
        let Some(LeaderToBackend::Init { leader_id, app, backend: Some(init) }) =
            backend::examples::to_backend().into_iter().nth(1)
        else {
            unreachable!("the second example is a keyed backend's init")
        };
        let init = BackendInit { key: past, ..init };
        malformed(&LeaderToBackend::Init { leader_id, app, backend: Some(init) }, "at most 256");
    }

    #[test]
    fn a_liveness_key_is_a_lock_name_of_at_most_512_bytes() {
        let claim = |liveness_key: String| LeaderClaim {
            leader_id: crate::model::ids::ClientId::new("c0").unwrap(),
            liveness_key,
            epoch: None,
            backend_id: None,
            hosted: Vec::new(),
        };
        assert!(through(&TabToCoordinator::NewLeader(claim("l".repeat(512)))).is_ok());
        for bad in ["l".repeat(1 << 20), String::new(), "a\nb".into()] {
            malformed(&TabToCoordinator::NewLeader(claim(bad.clone())), "`liveness_key`");
            let leadership = Leadership { liveness_key: bad.clone(), ..coordinator::examples::leadership() };
            malformed(&CoordinatorToTab::NewLeader(leadership.clone()), "`liveness_key`");
            let coordinator_id = crate::model::ids::CoordinatorId::new("k1").unwrap();
            malformed(&CoordinatorToTab::Welcome { coordinator_id, leader: Some(leadership), tabs: 2 }, "liveness");
            malformed(&BackendToLeader::Ready { liveness_key: bad }, "`liveness_key`");
        }
    }

    #[test]
    fn a_connect_carries_no_user_or_auth_and_at_most_64_kib_of_text() {
        use crate::model::connect::{ConnectRequest, Executable, MAX_CONNECT_TEXT, Spawn, SpawnConfig};
        let call = |request: ConnectRequest| {
            TabToCoordinator::Connect(Box::new(coordinator::ConnectCall { request, ..coordinator::examples::call() }))
        };
        let user = ConnectRequest { user: Some("ada".into()), ..ConnectRequest::default() };
        malformed(&call(user), "`user` and `auth` never leave the asking tab");
        let auth = ConnectRequest { auth: Some(crate::model::value::Object::new()), ..ConnectRequest::default() };
        malformed(&call(auth), "never leave");
        let env = |bytes: usize| {
            let env = (0..bytes / 1024).map(|n| (format!("V{n:04}"), "v".repeat(1019))).collect();
            let executable = Executable { env: Some(env), ..Executable::default() };
            let config = SpawnConfig { executable: Some(executable), ..SpawnConfig::default() };
            ConnectRequest { key: Some("k".into()), spawn: Some(Spawn::Config(config)), ..ConnectRequest::default() }
        };
        assert!(through(&call(env(MAX_CONNECT_TEXT - 1024))).is_ok());
        malformed(&call(env(MAX_CONNECT_TEXT + 1024)), "at most 65536 are read");
    }

    #[test]
    fn an_init_carries_the_latest_connects_of_each_tab_only() {
        let Some(LeaderToBackend::Init { backend: Some(mut init), .. }) =
            backend::examples::to_backend().into_iter().nth(1)
        else {
            unreachable!("the second example is a keyed backend's init")
        };
        init.admitted.clear();
        let admission = |n: usize, tab: &str| Admission {
            token: format!("t{n}"),
            secret_token: format!("s{n}"),
            client_id: crate::model::ids::ClientId::new(tab).unwrap(),
        };
        init.admit(admission(0, "other"));
        for n in 1..=1_000 {
            init.admit(admission(n, "c1"));
        }
        let tokens: Vec<&str> = init.admitted.iter().map(|a| a.token.as_str()).collect();
        assert_eq!(tokens.len(), MAX_ADMITTED_PER_TAB + 1);
        assert_eq!((tokens[0], tokens[1]), ("t0", format!("t{}", 1_001 - MAX_ADMITTED_PER_TAB).as_str()));
        assert_eq!(tokens.last(), Some(&"t1000"));
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
