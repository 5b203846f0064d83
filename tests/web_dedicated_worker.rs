//! The browser glue in a dedicated worker, where backends run.
#![cfg(target_arch = "wasm32")]

mod web_support;

use tabworker::web::Features;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[wasm_bindgen_test]
fn features_of_a_dedicated_worker() {
    web_support::check_features(Features {
        shared_worker: false,
        web_locks: true,
        opfs: true,
        opfs_sync_access: true,
        secure_context: true,
    });
    web_support::check_coordinator_refuses_this_context();
}

#[wasm_bindgen_test]
async fn web_locks_work_in_a_dedicated_worker() {
    web_support::check_locks_in_this_context().await;
}

#[wasm_bindgen_test]
fn a_rust_backend_with_a_name_no_tab_can_send_is_not_served() {
    use tabworker::{RustBackend, Serve, Value};
    let refused = RustBackend::new(()).handle("", |_, _, _| Ok(Value::Null)).serve().err().expect("refused");
    assert_eq!(refused.code, tabworker::web::ErrorCode::InvalidArgument);
    assert!(refused.message.starts_with("a method must be"), "{}", refused.message);
}
