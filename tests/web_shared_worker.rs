//! The browser glue in a SharedWorker, where the coordinator runs.
#![cfg(target_arch = "wasm32")]

mod web_support;

use tabworker::protocol::{BUILD, CoordinatorToTab, LeaderClaim, Leadership, TabToCoordinator, decode, frame};
use tabworker::web::locks::{LockMode, WebLock};
use tabworker::web::{Features, from_js, run_coordinator, to_js};
use tabworker::{ClientId, Epoch, Value};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;
use web_support::next_message;

wasm_bindgen_test_configure!(run_in_shared_worker);

#[wasm_bindgen_test]
fn features_of_a_shared_worker() {
    web_support::check_features(Features {
        shared_worker: false,
        web_locks: true,
        opfs: true,
        opfs_sync_access: false,
        secure_context: true,
    });
}

#[wasm_bindgen_test]
async fn web_locks_work_in_a_shared_worker() {
    web_support::check_locks_in_this_context().await;
}

fn post(port: &web_sys::MessagePort, message: &TabToCoordinator) {
    port.post_message(&to_js(&frame(message))).unwrap();
}

#[wasm_bindgen_test]
async fn the_coordinator_welcomes_tabs_and_survives_garbage() {
    let coordinator = run_coordinator(None, Some("web-test".into())).expect("a SharedWorker may run the coordinator");
    let (tab_a, tab_b) = (web_sys::MessageChannel::new().unwrap(), web_sys::MessageChannel::new().unwrap());
    coordinator.accept(tab_a.port2());
    coordinator.accept(tab_b.port2());
    // Each tab holds its tab lock for its whole life; the coordinator waits on it.
    let tab_lock_a = WebLock::acquire("tabworker:web-test:tab:a", LockMode::Exclusive).await.unwrap();
    let _tab_lock_b = WebLock::acquire("tabworker:web-test:tab:b", LockMode::Exclusive).await.unwrap();

    post(
        &tab_a.port1(),
        &TabToCoordinator::Hello {
            client_id: ClientId::new("a").unwrap(),
            build: BUILD.into(),
            epoch: None,
            proof: "pa".into(),
        },
    );
    // Tabs are served once the coordinator holds its liveness lock; until
    // then their frames wait in their ports.
    let welcome = next_message(&tab_a.port1(), 2000).await;
    assert_eq!(coordinator.connections(), 2);
    let liveness = coordinator.liveness_key().expect("the coordinator has a liveness lock");
    assert_eq!(liveness, format!("tabworker:web-test:coordinator:{}", coordinator.id()));
    assert!(web_support::lock_snapshot().await.0.contains(&liveness), "the liveness lock is held");
    match decode::<CoordinatorToTab>(&from_js::<Value>(welcome.data()).unwrap(), 0).unwrap() {
        CoordinatorToTab::Welcome { coordinator_id, tabs, leader } => {
            assert_eq!(coordinator_id.as_str(), coordinator.id());
            assert_eq!((tabs, leader), (1, None));
        }
        other => panic!("expected welcome, got {other:?}"),
    }

    // Garbage is refused with a typed answer and counted; the coordinator keeps serving.
    tab_a.port1().post_message(&"garbage".into()).unwrap();
    let refused = next_message(&tab_a.port1(), 2000).await;
    assert!(matches!(
        decode::<CoordinatorToTab>(&from_js::<Value>(refused.data()).unwrap(), 0).unwrap(),
        CoordinatorToTab::Rejected { code, .. } if code == tabworker::ErrorCode::NotAFrame
    ));
    assert_eq!(coordinator.rejected(), 1.0);

    post(
        &tab_b.port1(),
        &TabToCoordinator::Hello {
            client_id: ClientId::new("b").unwrap(),
            build: BUILD.into(),
            epoch: None,
            proof: "pb".into(),
        },
    );
    let welcome = next_message(&tab_b.port1(), 2000).await;
    assert!(matches!(
        decode::<CoordinatorToTab>(&from_js::<Value>(welcome.data()).unwrap(), 0).unwrap(),
        CoordinatorToTab::Welcome { tabs: 2, .. }
    ));

    // A new leader is announced to every tab that said hello.
    let claim = LeaderClaim {
        leader_id: ClientId::new("b").unwrap(),
        liveness_key: "tabworker:web-test:liveness:w".into(),
        epoch: None,
        backend_id: None,
        hosted: Vec::new(),
    };
    post(&tab_b.port1(), &TabToCoordinator::NewLeader(claim.clone()));
    let announced = next_message(&tab_a.port1(), 2000).await;
    assert_eq!(
        decode::<CoordinatorToTab>(&from_js::<Value>(announced.data()).unwrap(), 0).unwrap(),
        CoordinatorToTab::NewLeader(Leadership {
            leader_id: claim.leader_id,
            epoch: Epoch::new(1).unwrap(),
            liveness_key: claim.liveness_key,
            backend_id: None,
        })
    );
    assert_eq!(coordinator.epoch(), Some(1.0));

    // A tab whose lock is released is gone: the coordinator drops it.
    drop(tab_lock_a);
    let deadline = js_sys::Date::now() + 2000.0;
    while coordinator.connections() != 1 {
        assert!(js_sys::Date::now() < deadline, "the coordinator still counts {} tabs", coordinator.connections());
        wasm_bindgen_futures::JsFuture::from(web_support::delay(10, &JsValue::NULL)).await.unwrap();
    }
}
