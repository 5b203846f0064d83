#![cfg(not(target_arch = "wasm32"))]
//! The seed's `@jamsocket/types` (ConnectRequest, ConnectResponse,
//! BackendStatus, TerminationKind, TerminationReason, BackendState) serialize
//! exactly as the seed writes them, and seed-shaped JSON reads back.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tabworker::{
    BackendId, BackendState, BackendStatus, ConnectRequest, ConnectResponse, Executable, FromValue, Mount,
    ResourceLimits, Spawn, SpawnConfig, TerminationKind, TerminationReason, Timestamp, ToValue, from_json, to_json,
};

const T0: &str = "2026-11-22T10:00:00.000Z";

fn t0() -> Timestamp {
    T0.parse().expect("the seed's example time parses")
}

/// Serializes `value`, checks it is exactly `expected`, then checks that
/// `expected` reads back as `value`.
fn assert_round_trip<T>(value: &T, expected: Value)
where
    T: ToValue + FromValue + PartialEq + std::fmt::Debug,
{
    assert_eq!(to_json(value), expected, "serializing {value:?}");
    assert_eq!(&from_json::<T>(expected.clone()).unwrap(), value, "deserializing {expected}");
}

fn refused<T: FromValue + std::fmt::Debug>(input: Value) -> String {
    match from_json::<T>(input.clone()) {
        Ok(value) => panic!("{input} was accepted as {value:?}"),
        Err(e) => e.to_string(),
    }
}

// ---------------------------------------------------------------- statuses

#[test]
fn every_backend_status_serializes_as_the_seed_string() {
    let expected = [
        (BackendStatus::Scheduled, "scheduled"),
        (BackendStatus::Loading, "loading"),
        (BackendStatus::Starting, "starting"),
        (BackendStatus::Waiting, "waiting"),
        (BackendStatus::Ready, "ready"),
        (BackendStatus::Terminating, "terminating"),
        (BackendStatus::HardTerminating, "hard-terminating"),
        (BackendStatus::Terminated, "terminated"),
    ];
    assert_eq!(expected.map(|(s, _)| s), BackendStatus::ALL, "the table covers every status");
    for (status, text) in expected {
        assert_round_trip(&status, json!(text));
        assert_eq!(status.as_str(), text);
        assert_eq!(status.to_string(), text);
    }
}

#[test]
fn unknown_or_differently_cased_status_strings_are_refused() {
    for bad in ["paused", "hard_terminating", "HardTerminating", "Ready", "", " ready"] {
        refused::<BackendStatus>(json!(bad));
    }
    refused::<BackendStatus>(json!(4));
    refused::<BackendStatus>(json!(null));
}

#[test]
fn termination_kinds_serialize_as_soft_and_hard() {
    assert_round_trip(&TerminationKind::Soft, json!("soft"));
    assert_round_trip(&TerminationKind::Hard, json!("hard"));
    refused::<TerminationKind>(json!("Soft"));
    refused::<TerminationKind>(json!("graceful"));
}

#[test]
fn every_termination_reason_serializes_as_the_seed_string() {
    assert_round_trip(&TerminationReason::Swept, json!("swept"));
    assert_round_trip(&TerminationReason::External, json!("external"));
    assert_round_trip(&TerminationReason::KeyExpired, json!("key_expired"));
    assert_round_trip(&TerminationReason::Lost, json!("lost"));
    assert_round_trip(&TerminationReason::StartupTimeout, json!("startup_timeout"));
    refused::<TerminationReason>(json!("key-expired"));
    refused::<TerminationReason>(json!("startup-timeout"));
    refused::<TerminationReason>(json!("timeout"));
}

// ------------------------------------------------------------ BackendState

#[test]
fn plain_backend_states_carry_status_and_iso_time_only() {
    let time = t0();
    let cases = [
        (BackendState::Scheduled { time }, "scheduled"),
        (BackendState::Loading { time }, "loading"),
        (BackendState::Starting { time }, "starting"),
        (BackendState::Waiting { time }, "waiting"),
        (BackendState::Ready { time }, "ready"),
    ];
    for (state, status) in cases {
        assert_round_trip(&state, json!({"status": status, "time": T0}));
    }
}

#[test]
fn terminating_states_carry_their_termination_reason() {
    let time = t0();
    assert_round_trip(
        &BackendState::Terminating { time, termination_reason: TerminationReason::KeyExpired },
        json!({"status": "terminating", "time": T0, "termination_reason": "key_expired"}),
    );
    assert_round_trip(
        &BackendState::HardTerminating { time, termination_reason: TerminationReason::StartupTimeout },
        json!({"status": "hard-terminating", "time": T0, "termination_reason": "startup_timeout"}),
    );
}

#[test]
fn terminating_states_without_a_termination_reason_are_refused() {
    let message = refused::<BackendState>(json!({"status": "terminating", "time": T0}));
    assert!(message.contains("termination_reason"), "{message}");
    let message = refused::<BackendState>(json!({"status": "hard-terminating", "time": T0}));
    assert!(message.contains("termination_reason"), "{message}");
    refused::<BackendState>(json!({"status": "terminating", "time": T0, "termination_reason": null}));
}

#[test]
fn terminated_with_every_optional_field_writes_them_all() {
    assert_round_trip(
        &BackendState::Terminated {
            time: t0(),
            termination_reason: Some(TerminationReason::Swept),
            termination_kind: Some(TerminationKind::Hard),
            exit_error: Some(true),
        },
        json!({
            "status": "terminated",
            "time": T0,
            "termination_reason": "swept",
            "termination_kind": "hard",
            "exit_error": true,
        }),
    );
}

#[test]
fn terminated_omits_absent_optional_fields_rather_than_writing_null() {
    let state =
        BackendState::Terminated { time: t0(), termination_reason: None, termination_kind: None, exit_error: None };
    assert_round_trip(&state, json!({"status": "terminated", "time": T0}));

    let only_exit_error = BackendState::Terminated {
        time: t0(),
        termination_reason: None,
        termination_kind: None,
        exit_error: Some(false),
    };
    assert_round_trip(&only_exit_error, json!({"status": "terminated", "time": T0, "exit_error": false}));
}

#[test]
fn terminated_reads_null_optional_fields_as_absent() {
    let read: BackendState = from_json(json!({
        "status": "terminated",
        "time": T0,
        "termination_reason": null,
        "termination_kind": null,
        "exit_error": null,
    }))
    .unwrap();
    assert_eq!(
        read,
        BackendState::Terminated { time: t0(), termination_reason: None, termination_kind: None, exit_error: None }
    );
    assert_eq!(to_json(&read), json!({"status": "terminated", "time": T0}));
}

#[test]
fn backend_state_time_is_written_like_javascript_to_iso_string() {
    // new Date(1795428000123).toISOString() === "2026-11-23T10:00:00.123Z"
    let time = Timestamp::from_unix_millis(1_795_428_000_123);
    assert_round_trip(&BackendState::Ready { time }, json!({"status": "ready", "time": "2026-11-23T10:00:00.123Z"}));
    assert_eq!(t0().unix_millis(), 1_795_341_600_000);
    // Any RFC 3339 form reads back; it is always written in the canonical form.
    let read: BackendState = from_json(json!({"status": "ready", "time": "2026-11-22T11:00:00+01:00"})).unwrap();
    assert_eq!(to_json(&read), json!({"status": "ready", "time": T0}));
}

#[test]
fn backend_state_with_a_numeric_or_non_iso_time_is_refused() {
    for time in [json!(1_795_341_600_000u64), json!(0), json!(null), json!({})] {
        refused::<BackendState>(json!({"status": "ready", "time": time}));
    }
    for time in ["yesterday", "2026-11-22", "1795341600000", "2026-11-22 10:00:00Z", "Sun Nov 22 2026", ""] {
        refused::<BackendState>(json!({"status": "ready", "time": time}));
    }
    refused::<BackendState>(json!({"status": "ready"}));
}

#[test]
fn backend_state_with_an_unknown_status_or_reason_is_refused() {
    refused::<BackendState>(json!({"status": "paused", "time": T0}));
    refused::<BackendState>(json!({"status": "hard_terminating", "time": T0, "termination_reason": "lost"}));
    refused::<BackendState>(json!({"time": T0}));
    refused::<BackendState>(json!({"status": "terminating", "time": T0, "termination_reason": "bored"}));
    refused::<BackendState>(json!({"status": "terminated", "time": T0, "termination_kind": "gentle"}));
    refused::<BackendState>(json!({"status": "terminated", "time": T0, "exit_error": "yes"}));
}

// ---------------------------------------------------------- ConnectRequest

#[test]
fn empty_connect_request_round_trips_to_an_empty_object() {
    assert_round_trip(&ConnectRequest::default(), json!({}));
}

#[test]
fn connect_request_reads_null_fields_as_absent() {
    let read: ConnectRequest = from_json(json!({"key": null, "spawn": null, "user": null, "auth": null})).unwrap();
    assert_eq!(read, ConnectRequest::default());
    assert_eq!(to_json(&read), json!({}));
}

#[test]
fn connect_request_spawn_may_be_a_boolean() {
    for flag in [true, false] {
        let request =
            ConnectRequest { key: Some("doc-1".into()), spawn: Some(Spawn::Enabled(flag)), ..Default::default() };
        assert_round_trip(&request, json!({"key": "doc-1", "spawn": flag}));
    }
}

#[test]
fn connect_request_spawn_may_be_the_full_configuration_object() {
    let env = [("A".to_owned(), "1".to_owned()), ("B".to_owned(), "two".to_owned())].into_iter().collect();
    let request = ConnectRequest {
        key: Some("doc-1".into()),
        spawn: Some(Spawn::Config(SpawnConfig {
            tag: Some("v2".into()),
            lifetime_limit_seconds: Some(3600),
            max_idle_seconds: Some(60),
            executable: Some(Executable {
                mount: Some(Mount::Named("docs".into())),
                env: Some(env),
                resource_limits: Some(ResourceLimits {
                    cpu_period: Some(tabworker::Number::new(100_000.0).unwrap()),
                    cpu_period_percent: Some(tabworker::Number::new(50.0).unwrap()),
                    cpu_time_limit: Some(tabworker::Number::new(30.0).unwrap()),
                    memory_limit_bytes: Some(tabworker::Number::new(268_435_456.0).unwrap()),
                    disk_limit_bytes: Some(tabworker::Number::new(1_073_741_824.0).unwrap()),
                }),
            }),
        })),
        user: Some("ada".into()),
        auth: None,
    };
    assert_round_trip(
        &request,
        json!({
            "key": "doc-1",
            "spawn": {
                "tag": "v2",
                "lifetime_limit_seconds": 3600,
                "max_idle_seconds": 60,
                "executable": {
                    "mount": "docs",
                    "env": {"A": "1", "B": "two"},
                    "resource_limits": {
                        "cpu_period": 100_000,
                        "cpu_period_percent": 50,
                        "cpu_time_limit": 30,
                        "memory_limit_bytes": 268_435_456u64,
                        "disk_limit_bytes": 1_073_741_824u64,
                    },
                },
            },
            "user": "ada",
        }),
    );
}

#[test]
fn executable_mount_may_be_a_string_or_a_boolean() {
    for (mount, written) in [
        (Mount::Named("data".into()), json!("data")),
        (Mount::Enabled(true), json!(true)),
        (Mount::Enabled(false), json!(false)),
    ] {
        let request = ConnectRequest {
            spawn: Some(Spawn::Config(SpawnConfig {
                executable: Some(Executable { mount: Some(mount), ..Default::default() }),
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_round_trip(&request, json!({"spawn": {"executable": {"mount": written}}}));
    }
    refused::<Mount>(json!(1));
    refused::<Mount>(json!({"name": "data"}));
}

#[test]
fn empty_spawn_configuration_objects_omit_every_absent_field() {
    let request = ConnectRequest {
        spawn: Some(Spawn::Config(SpawnConfig {
            executable: Some(Executable { resource_limits: Some(ResourceLimits::default()), ..Default::default() }),
            ..Default::default()
        })),
        ..Default::default()
    };
    assert_round_trip(&request, json!({"spawn": {"executable": {"resource_limits": {}}}}));
    assert_round_trip(
        &ConnectRequest { spawn: Some(Spawn::Config(SpawnConfig::default())), ..Default::default() },
        json!({"spawn": {}}),
    );
}

#[test]
fn connect_request_auth_carries_arbitrary_nested_json() {
    let auth = json!({
        "token": "abc",
        "claims": {"roles": ["admin", "editor"], "exp": 1_795_341_600, "nested": {"deep": [null, true, 1.5]}},
        "empty": {},
    });
    let request = ConnectRequest {
        user: Some("grace".into()),
        auth: Some(tabworker::Value::from(auth.clone()).as_object().unwrap().clone()),
        ..Default::default()
    };
    assert_round_trip(&request, json!({"user": "grace", "auth": auth}));
}

#[test]
fn connect_request_spawn_that_is_neither_boolean_nor_object_is_refused_naming_spawn() {
    for bad in [json!("yes"), json!(1), json!([true])] {
        let message = refused::<ConnectRequest>(json!({"spawn": bad}));
        assert!(message.contains("spawn"), "message for spawn = {bad} does not mention spawn: {message}");
    }
}

#[test]
fn connect_request_max_idle_seconds_must_be_a_non_negative_integer() {
    for bad in [json!(1.5), json!(-1), json!("60"), json!(true), json!(4_294_967_296u64)] {
        refused::<ConnectRequest>(json!({"spawn": {"max_idle_seconds": bad}}));
    }
    let read: ConnectRequest = from_json(json!({"spawn": {"max_idle_seconds": 0}})).unwrap();
    assert_eq!(read.spawn, Some(Spawn::Config(SpawnConfig { max_idle_seconds: Some(0), ..Default::default() })));
}

#[test]
fn connect_request_refuses_wrongly_typed_fields() {
    refused::<ConnectRequest>(json!({"key": 7}));
    refused::<ConnectRequest>(json!({"user": false}));
    refused::<ConnectRequest>(json!({"auth": "token"}));
    refused::<ConnectRequest>(json!({"auth": [1, 2]}));
    refused::<ConnectRequest>(json!({"spawn": {"executable": {"env": {"A": 1}}}}));
    refused::<ConnectRequest>(json!({"spawn": {"executable": {"resource_limits": {"cpu_period_percent": "half"}}}}));
    refused::<ConnectRequest>(json!({"spawn": {"lifetime_limit_seconds": -1}}));
    refused::<ConnectRequest>(json!("doc-1"));
    refused::<ConnectRequest>(json!(null));
}

// --------------------------------------------------------- ConnectResponse

fn full_response(secret_token: Option<&str>) -> ConnectResponse {
    ConnectResponse {
        backend_id: BackendId::new("b-1").unwrap(),
        spawned: true,
        status: BackendStatus::HardTerminating,
        token: "tok".into(),
        url: "tabworker://b-1".into(),
        secret_token: secret_token.map(str::to_owned),
        status_url: "tabworker://b-1/status".into(),
        ready_url: "tabworker://b-1/ready".into(),
    }
}

#[test]
fn connect_response_writes_every_field_in_snake_case() {
    assert_round_trip(
        &full_response(Some("shh")),
        json!({
            "backend_id": "b-1",
            "spawned": true,
            "status": "hard-terminating",
            "token": "tok",
            "url": "tabworker://b-1",
            "secret_token": "shh",
            "status_url": "tabworker://b-1/status",
            "ready_url": "tabworker://b-1/ready",
        }),
    );
}

#[test]
fn connect_response_keys_are_exactly_the_seed_field_names() {
    let written = to_json(&full_response(Some("shh")));
    let keys: BTreeSet<&str> = written.as_object().unwrap().keys().map(String::as_str).collect();
    let seed: BTreeSet<&str> =
        ["backend_id", "spawned", "status", "token", "url", "secret_token", "status_url", "ready_url"].into();
    assert_eq!(keys, seed);
}

#[test]
fn connect_response_omits_an_absent_secret_token_and_reads_null_as_absent() {
    let expected = json!({
        "backend_id": "b-1",
        "spawned": true,
        "status": "hard-terminating",
        "token": "tok",
        "url": "tabworker://b-1",
        "status_url": "tabworker://b-1/status",
        "ready_url": "tabworker://b-1/ready",
    });
    assert_round_trip(&full_response(None), expected.clone());

    let mut with_null = expected;
    with_null["secret_token"] = Value::Null;
    assert_eq!(from_json::<ConnectResponse>(with_null).unwrap(), full_response(None));
}

#[test]
fn connect_response_refuses_missing_fields_and_unknown_statuses() {
    let good = to_json(&full_response(Some("shh")));
    for field in ["backend_id", "spawned", "status", "token", "url", "status_url", "ready_url"] {
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove(field);
        let message = refused::<ConnectResponse>(missing);
        assert!(message.contains(field), "message for missing {field}: {message}");
    }
    let mut unknown_status = good.clone();
    unknown_status["status"] = json!("paused");
    refused::<ConnectResponse>(unknown_status);
    let mut empty_id = good;
    empty_id["backend_id"] = json!("");
    refused::<ConnectResponse>(empty_id);
}
