//! The app's `initialize()`: settled by the first `welcome`, or refused and the tab leaves.
use super::*;
use crate::model::locks::{LockCommand, LockId, LockNames};
use crate::protocol::{CoordinatorToTab, TabToCoordinator};
use crate::tab::TabOutput;
use crate::tab::calls::CallValue;
use crate::tab::tests::{T0, acquire, client, drain, names};

fn welcome() -> CoordinatorToTab {
    let coordinator_id = crate::model::ids::CoordinatorId::new("k").unwrap();
    CoordinatorToTab::Welcome { coordinator_id, leader: None, tabs: 1 }
}

fn settled(out: &[TabOutput]) -> Vec<(CallId, Result<CallValue, ErrorCode>)> {
    out.iter()
        .filter_map(|o| match o {
            TabOutput::Event(TabEvent::Settled { call, outcome }) => Some((*call, outcome.clone().map_err(|e| e.code))),
            _ => None,
        })
        .collect()
}

#[test]
fn the_join_is_settled_by_the_first_welcome_and_only_once() {
    let mut tab = Tab::new(client(1), names());
    let call = tab.join(T0);
    assert_eq!(drain(&mut tab)[0], acquire(LockId::Tab(client(1)), crate::LockMode::Exclusive));
    tab.lock_granted(T0, &LockId::Tab(client(1)));
    drain(&mut tab);
    assert!(tab.poll_timeout().is_some());
    tab.from_coordinator(T0, Ok(welcome()));
    assert_eq!(settled(&drain(&mut tab)), [(call, Ok(CallValue::Joined))]);
    let again = tab.join(T0);
    assert_eq!(settled(&drain(&mut tab)), [(again, Err(ErrorCode::NotInitialized))]);
    tab.coordinator_failed(T0, "late".into());
    assert_eq!(drain(&mut tab), [], "a joined tab learns of its coordinator's death from its lock");
    assert!(tab.is_joined());
}

#[test]
fn a_hello_refused_as_another_build_fails_the_join_with_that_code_and_the_tab_leaves() {
    let app = crate::model::ids::AppName::deployed("app", &crate::protocol::fingerprint(Some("v2"))).unwrap();
    let mut tab = Tab::new(client(1), LockNames::new(app));
    let call = tab.join(T0);
    tab.lock_granted(T0, &LockId::Tab(client(1)));
    let hello = drain(&mut tab).into_iter().find_map(|o| match o {
        TabOutput::ToCoordinator(TabToCoordinator::Hello { build, .. }) => Some(build),
        _ => None,
    });
    assert_eq!(hello.as_deref(), Some("tabworker/0.1.0/p1+v2"), "the hello names the tab's build");
    // Any other refusal of a hello leaves the join to its deadline.
    let other = CoordinatorToTab::Rejected { code: ErrorCode::Malformed, detail: "?".into() };
    tab.from_coordinator(T0, Ok(other));
    assert_eq!(settled(&drain(&mut tab)), []);
    let detail = "this coordinator serves build `a`, the tab is build `b`".to_owned();
    tab.from_coordinator(T0, Ok(CoordinatorToTab::Rejected { code: ErrorCode::VersionMismatch, detail }));
    let out = drain(&mut tab);
    assert_eq!(settled(&out), [(call, Err(ErrorCode::VersionMismatch))]);
    assert!(out.contains(&TabOutput::Lock(LockCommand::Release { lock: LockId::Tab(client(1)) })), "it left: {out:?}");
}

#[test]
fn a_hello_refused_for_a_client_id_another_tab_holds_fails_the_join_with_that_code() {
    let mut tab = Tab::new(client(1), names());
    let call = tab.join(T0);
    tab.lock_granted(T0, &LockId::Tab(client(1)));
    drain(&mut tab);
    let detail = "client `c1` is connected, and this hello lacks its proof".to_owned();
    tab.from_coordinator(T0, Ok(CoordinatorToTab::Rejected { code: ErrorCode::ClientIdTaken, detail }));
    let out = drain(&mut tab);
    assert_eq!(settled(&out), [(call, Err(ErrorCode::ClientIdTaken))]);
    assert!(out.contains(&TabOutput::Lock(LockCommand::Release { lock: LockId::Tab(client(1)) })), "it left: {out:?}");
}

#[test]
fn a_join_with_no_welcome_by_its_deadline_fails_and_the_tab_leaves() {
    let mut tab = Tab::new(client(1), names());
    tab.set_call_timeout(300);
    let call = tab.join(T0);
    tab.lock_granted(T0, &LockId::Tab(client(1)));
    drain(&mut tab);
    tab.timeout(T0.plus_millis(299));
    assert_eq!(settled(&drain(&mut tab)), [], "not before");
    assert_eq!(tab.poll_timeout(), Some(T0.plus_millis(300)));
    tab.timeout(T0.plus_millis(300));
    let out = drain(&mut tab);
    assert_eq!(settled(&out), [(call, Err(ErrorCode::CoordinatorUnavailable))]);
    let TabOutput::Event(TabEvent::Settled { outcome: Err(error), .. }) = &out[0] else { panic!("{out:?}") };
    assert_eq!(error.detail, "the coordinator did not answer within 300 ms");
    assert!(out.contains(&TabOutput::ToCoordinator(TabToCoordinator::Goodbye { client_id: client(1) })));
    tab.from_coordinator(T0, Ok(welcome()));
    assert!(!tab.is_joined(), "a welcome after it left is not taken");
}

#[test]
fn a_coordinator_that_fails_or_a_destroy_ends_the_join() {
    let mut tab = Tab::new(client(1), names());
    let call = tab.join(T0);
    drain(&mut tab);
    tab.coordinator_failed(T0, "the coordinator script failed to load or threw".into());
    let out = drain(&mut tab);
    assert_eq!(settled(&out), [(call, Err(ErrorCode::CoordinatorUnavailable))]);
    assert!(out.contains(&TabOutput::Lock(LockCommand::Release { lock: LockId::Tab(client(1)) })), "it left: {out:?}");
    assert_eq!(tab.poll_timeout(), None);

    let mut tab = Tab::new(client(2), names());
    let call = tab.join(T0);
    drain(&mut tab);
    tab.destroy(T0);
    assert_eq!(settled(&drain(&mut tab)), [(call, Err(ErrorCode::NotInitialized))]);
}
