//! The browser glue in a page: seed types to and from JavaScript values, time
//! against JavaScript's `Date`, Web Locks, features and JS errors.
#![cfg(target_arch = "wasm32")]

mod web_support;

use tabworker::web::{ErrorCode, Features, TabworkerError, from_js, to_js};
use tabworker::{BackendState, BackendStatus, ConnectRequest, ConnectResponse, Spawn, TerminationReason, Timestamp};
use tabworker::{FromValue, ToValue};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn parse(json: &str) -> JsValue {
    js_sys::JSON::parse(json).unwrap()
}

fn as_json(value: &JsValue) -> serde_json::Value {
    serde_json::from_str(&String::from(js_sys::JSON::stringify(value).unwrap())).unwrap()
}

/// Seed-shaped JSON → JS object → Rust → JS object: the result is plain data
/// (objects, not Maps) equal to the original.
fn round_trip<T: ToValue + FromValue + std::fmt::Debug>(json: &str) -> T {
    let original = parse(json);
    let value: T = from_js(original).unwrap_or_else(|e| panic!("{json} did not deserialize: {e}"));
    let back = to_js(&value);
    assert!(!back.is_instance_of::<js_sys::Map>(), "objects must not become Maps");
    assert_eq!(as_json(&back), serde_json::from_str::<serde_json::Value>(json).unwrap(), "{value:?}");
    value
}

#[wasm_bindgen_test]
fn connect_request_round_trips_as_the_seed_writes_it() {
    let full = round_trip::<ConnectRequest>(
        r#"{"key":"doc-1","spawn":{"tag":"sqlite","lifetime_limit_seconds":3600,"max_idle_seconds":60,
            "executable":{"mount":"db","env":{"MODE":"fast","LEVEL":"2"},
            "resource_limits":{"cpu_period":100000,"cpu_period_percent":50,"cpu_time_limit":10,
            "memory_limit_bytes":1048576,"disk_limit_bytes":2097152}}},
            "user":"ada","auth":{"role":"admin","scopes":["read","write"],"n":1.5,"nested":{"ok":true,"none":null}}}"#,
    );
    assert!(matches!(full.spawn, Some(Spawn::Config(_))));
    round_trip::<ConnectRequest>(r#"{}"#);
    round_trip::<ConnectRequest>(r#"{"key":"k","spawn":true}"#);
    round_trip::<ConnectRequest>(r#"{"spawn":{"executable":{"mount":true}}}"#);
}

#[wasm_bindgen_test]
fn undefined_and_null_optional_fields_read_as_absent() {
    let object = js_sys::Object::new();
    js_sys::Reflect::set(&object, &"key".into(), &JsValue::UNDEFINED).unwrap();
    js_sys::Reflect::set(&object, &"user".into(), &JsValue::NULL).unwrap();
    let request: ConnectRequest = from_js(object.into()).unwrap();
    assert_eq!(request, ConnectRequest::default());
    assert_eq!(as_json(&to_js(&request)), serde_json::json!({}));
}

#[wasm_bindgen_test]
fn malformed_seed_values_are_errors_not_panics() {
    for bad in [
        r#"{"spawn":"yes"}"#,
        r#"{"spawn":{"max_idle_seconds":-1}}"#,
        r#"{"spawn":{"max_idle_seconds":1.5}}"#,
        r#"{"key":7}"#,
        r#"[1,2]"#,
        r#"{"spawn":{"executable":{"env":{"A":1}}}}"#,
    ] {
        assert!(from_js::<ConnectRequest>(parse(bad)).is_err(), "{bad} was accepted");
    }
    assert!(
        from_js::<BackendState>(parse(r#"{"status":"hard_terminating","time":"2026-01-01T00:00:00.000Z"}"#)).is_err()
    );
    assert!(from_js::<BackendState>(parse(r#"{"status":"ready","time":1}"#)).is_err());
    assert!(from_js::<ConnectResponse>(parse(r#"{"backend_id":""}"#)).is_err());
}

#[wasm_bindgen_test]
fn connect_response_round_trips_with_and_without_secret_token() {
    let response = round_trip::<ConnectResponse>(
        r#"{"backend_id":"b-1","spawned":true,"status":"scheduled","token":"t","url":"tabworker://b-1",
            "secret_token":"s","status_url":"tabworker://b-1/status","ready_url":"tabworker://b-1/ready"}"#,
    );
    assert_eq!(response.status, BackendStatus::Scheduled);
    let without = round_trip::<ConnectResponse>(
        r#"{"backend_id":"b-1","spawned":false,"status":"hard-terminating","token":"t","url":"u","status_url":"s","ready_url":"r"}"#,
    );
    assert_eq!(without.secret_token, None);
    let null: ConnectResponse = from_js(parse(
        r#"{"backend_id":"b-1","spawned":false,"status":"ready","token":"t","url":"u","secret_token":null,"status_url":"s","ready_url":"r"}"#,
    ))
    .unwrap();
    assert_eq!(null.secret_token, None);
}

#[wasm_bindgen_test]
fn every_backend_state_round_trips() {
    let t = "2026-11-22T10:00:00.000Z";
    for status in ["scheduled", "loading", "starting", "waiting", "ready"] {
        round_trip::<BackendState>(&format!(r#"{{"status":"{status}","time":"{t}"}}"#));
    }
    for status in ["terminating", "hard-terminating"] {
        for reason in ["swept", "external", "key_expired", "lost", "startup_timeout"] {
            let state = round_trip::<BackendState>(&format!(
                r#"{{"status":"{status}","time":"{t}","termination_reason":"{reason}"}}"#
            ));
            assert!(state.termination_reason().is_some());
        }
    }
    let ended = round_trip::<BackendState>(&format!(
        r#"{{"status":"terminated","time":"{t}","termination_reason":"key_expired","termination_kind":"hard","exit_error":true}}"#
    ));
    assert_eq!(ended.termination_reason(), Some(TerminationReason::KeyExpired));
    round_trip::<BackendState>(&format!(r#"{{"status":"terminated","time":"{t}"}}"#));
}

#[wasm_bindgen_test]
fn timestamps_match_javascript_dates() {
    for millis in [0.0, 1.0, 951_782_400_000.0, 1_795_428_000_123.0, 4_102_444_799_999.0, 253_402_300_799_999.0] {
        let js = String::from(js_sys::Date::new(&millis.into()).to_iso_string());
        let ours = Timestamp::from_unix_millis(millis as u64);
        assert_eq!(ours.to_string(), js);
        assert_eq!(js.parse::<Timestamp>().unwrap(), ours);
    }
    let now = js_sys::Date::now();
    assert_eq!(
        Timestamp::from_unix_millis(now as u64).to_string(),
        String::from(js_sys::Date::new(&now.into()).to_iso_string())
    );
}

#[wasm_bindgen_test]
async fn web_locks_work_in_a_page() {
    web_support::check_locks_in_this_context().await;
}

#[wasm_bindgen_test]
fn features_of_a_page() {
    web_support::check_features(Features {
        shared_worker: true,
        web_locks: true,
        opfs: true,
        opfs_sync_access: false,
        secure_context: true,
    });
    web_support::check_coordinator_refuses_this_context();
}

#[wasm_bindgen_test]
fn errors_reach_javascript_with_a_stable_name_and_code() {
    let error = tabworker::web::Client::new(JsValue::from(5).unchecked_into()).err().expect("5 is not ClientOptions");
    assert_eq!(error.code, ErrorCode::InvalidArgument);
    let js: JsValue = error.into();
    assert!(js.is_instance_of::<js_sys::Error>());
    assert_eq!(js_sys::Reflect::get(&js, &"name".into()).unwrap(), "TabworkerError");
    assert_eq!(js_sys::Reflect::get(&js, &"code".into()).unwrap(), "invalid-argument");
    let js: JsValue = TabworkerError::new(ErrorCode::WebLocksUnavailable, "x").into();
    assert_eq!(js_sys::Reflect::get(&js, &"code".into()).unwrap(), "web-locks-unavailable");
}

#[wasm_bindgen_test]
fn only_plain_data_is_read_and_never_deeper_than_the_bound() {
    // A structured clone can be cyclic: reading it must end, with an error.
    let cyclic = parse(r#"{"key":"k","auth":{}}"#);
    let auth = js_sys::Reflect::get(&cyclic, &"auth".into()).unwrap();
    js_sys::Reflect::set(&auth, &"me".into(), &auth).unwrap();
    let error = from_js::<ConnectRequest>(cyclic).unwrap_err().to_string();
    assert!(error.contains(&format!("nested deeper than {}", tabworker::MAX_DEPTH)), "{error}");
    let deep = format!(
        "{}{}",
        r#"{"a":"#.repeat(tabworker::MAX_DEPTH + 1),
        "1".to_owned() + &"}".repeat(tabworker::MAX_DEPTH + 1)
    );
    assert!(from_js::<tabworker::Value>(parse(&deep)).is_err(), "nested past the bound");
    let shallow = format!(
        "{}{}",
        r#"{"a":"#.repeat(tabworker::MAX_DEPTH - 1),
        "1".to_owned() + &"}".repeat(tabworker::MAX_DEPTH - 1)
    );
    assert!(from_js::<tabworker::Value>(parse(&shallow)).is_ok(), "nested within the bound");
    for (what, value) in [
        ("a function", js_sys::Function::new_no_args("").into()),
        ("a Date", js_sys::Date::new_0().into()),
        ("a Map", js_sys::Map::new().into()),
        ("bigint", js_sys::BigInt::from(1).into()),
    ] {
        let error = from_js::<tabworker::Value>(value).unwrap_err().to_string();
        assert!(error.contains(what), "{what}: {error}");
    }
    assert!(from_js::<tabworker::Value>(JsValue::from_f64(f64::NAN)).is_err(), "NaN is not data");
}

#[wasm_bindgen_test]
fn every_error_code_reaches_javascript_as_its_own_code_and_reads_back_as_itself() {
    let mut seen = std::collections::BTreeSet::new();
    for &code in ErrorCode::ALL {
        let js: JsValue = TabworkerError::new(code, "why").into();
        assert_eq!(js_sys::Reflect::get(&js, &"name".into()).unwrap(), "TabworkerError");
        let text = js_sys::Reflect::get(&js, &"code".into()).unwrap().as_string().expect("a string code");
        assert!(seen.insert(text.clone()), "{text} twice");
        assert_eq!(text.parse::<ErrorCode>(), Ok(code), "{text}");
        // As a frame carries it: to a JavaScript value and back.
        assert_eq!(from_js::<ErrorCode>(to_js(&code)).unwrap(), code);
    }
    assert!(from_js::<ErrorCode>(JsValue::from_str("no-such-code")).is_err(), "no guessing fallback");
}
