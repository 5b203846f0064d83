//! Helpers shared by the `web_*` test files (wasm32 only).
#![allow(dead_code)]

use tabworker::web::locks::{LockMode, LockRequest, WebLock};
use tabworker::web::{ErrorCode, Features};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// Resolves to `value` after `ms` milliseconds.
pub fn delay(ms: u32, value: &JsValue) -> js_sys::Promise {
    js_sys::Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        let set_timeout: js_sys::Function =
            js_sys::Reflect::get(&global, &"setTimeout".into()).unwrap().unchecked_into();
        set_timeout.call3(&global, &resolve, &ms.into(), value).unwrap();
    })
}

/// Awaits `promise`, failing the test after `ms` milliseconds.
pub async fn within(ms: u32, what: &str, promise: js_sys::Promise) -> JsValue {
    let timed_out: JsValue = js_sys::Object::new().into();
    let first = JsFuture::from(js_sys::Promise::race(&js_sys::Array::of2(&promise, &delay(ms, &timed_out))))
        .await
        .unwrap_or_else(|e| panic!("{what} failed: {e:?}"));
    assert!(!js_sys::Object::is(&first, &timed_out), "timed out after {ms} ms waiting for {what}");
    first
}

/// The next message on `port`, within `ms` milliseconds.
pub async fn next_message(port: &web_sys::MessagePort, ms: u32) -> web_sys::MessageEvent {
    let message = js_sys::Promise::new(&mut |resolve, _| port.set_onmessage(Some(&resolve)));
    let event = within(ms, "a message", message).await;
    port.set_onmessage(None);
    event.unchecked_into()
}

/// A lock name no other test uses.
pub fn unique_lock(prefix: &str) -> String {
    format!("tabworker-test:{prefix}:{}", js_sys::Math::random())
}

/// Names of the locks held and pending in this origin.
pub async fn lock_snapshot() -> (Vec<String>, Vec<String>) {
    let locks =
        js_sys::Reflect::get(&js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).unwrap(), &"locks".into())
            .unwrap();
    let query: js_sys::Function = js_sys::Reflect::get(&locks, &"query".into()).unwrap().unchecked_into();
    let snapshot = JsFuture::from(query.call0(&locks).unwrap().unchecked_into::<js_sys::Promise>()).await.unwrap();
    let names = |key: &str| -> Vec<String> {
        js_sys::Array::from(&js_sys::Reflect::get(&snapshot, &key.into()).unwrap())
            .iter()
            .map(|info| js_sys::Reflect::get(&info, &"name".into()).unwrap().as_string().unwrap())
            .collect()
    };
    (names("held"), names("pending"))
}

/// Waits (at most 2 s) until `name` is, or is not, among the held or pending
/// locks; lock release and withdrawal take effect on a later tick.
pub async fn wait_for_lock(name: &str, pending: bool, present: bool, what: &str) {
    for _ in 0..200 {
        let (held_now, pending_now) = lock_snapshot().await;
        let list = if pending { pending_now } else { held_now };
        if list.iter().any(|n| n == name) == present {
            return;
        }
        JsFuture::from(delay(10, &JsValue::UNDEFINED)).await.unwrap();
    }
    panic!("{what}: not seen within 2 s");
}

/// Web Locks through tabworker's glue behave as locks in this context: one
/// holder at a time, released on drop, queued requests withdrawn on drop.
pub async fn check_locks_in_this_context() {
    let name = unique_lock("glue");
    let first = WebLock::acquire(&name, LockMode::Exclusive).await.expect("an uncontended lock is granted");
    assert_eq!(first.name(), name);
    assert!(
        WebLock::try_acquire(&name, LockMode::Exclusive).await.unwrap().is_none(),
        "a held exclusive lock must not be granted twice"
    );

    let queued = LockRequest::new(&name, LockMode::Exclusive, false).unwrap();
    wait_for_lock(&name, true, true, "the second request is queued behind the first").await;
    drop(queued);
    wait_for_lock(&name, true, false, "a dropped request leaves the queue").await;

    let waiter = LockRequest::new(&name, LockMode::Exclusive, false).unwrap();
    let granted = waiter.granted();
    drop(first);
    assert_eq!(
        within(
            2000,
            "the lock to pass on",
            wasm_bindgen_futures::future_to_promise(async move { Ok(granted.await.unwrap().into()) })
        )
        .await,
        JsValue::TRUE,
        "the queued request gets the lock once the holder drops it"
    );
    wait_for_lock(&name, false, true, "the waiter holds the lock").await;
    drop(waiter);
    wait_for_lock(&name, false, false, "dropping a granted request releases the lock").await;
}

/// Asserts the features found in this context.
pub fn check_features(expected: Features) {
    let found = Features::detect();
    assert_eq!(found, expected);
    let js = tabworker::web::features();
    let shared: JsValue = js_sys::Reflect::get(&js, &"sharedWorker".into()).unwrap();
    assert_eq!(shared.as_bool(), Some(expected.shared_worker), "features() uses camelCase names");
    let sync: JsValue = js_sys::Reflect::get(&js, &"opfsSyncAccess".into()).unwrap();
    assert_eq!(sync.as_bool(), Some(expected.opfs_sync_access));
}

/// `runCoordinator` outside a SharedWorker is a typed error, not a panic.
pub fn check_coordinator_refuses_this_context() {
    let error =
        tabworker::web::run_coordinator(None, None).err().expect("runCoordinator outside a SharedWorker must fail");
    assert_eq!(error.code, ErrorCode::InvalidArgument);
}
