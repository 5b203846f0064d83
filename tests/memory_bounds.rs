//! Bounds of the README's "Hostile pages and memory bounds" that no unit
//! test beside their code holds, checked through the public API: what the
//! coordinator keeps of watches of backends not reported yet, and how long
//! a backend's history grows.

use tabworker::protocol::{CoordinatorToTab, LeaderClaim, StatusReport, TabToCoordinator};
use tabworker::{
    AppName, BackendId, BackendState, BackendStatus, ClientId, ConnId, Coordinator, CoordinatorId, CoordinatorOutput,
    Lifecycle, LockNames, TerminationKind, TerminationReason, Timestamp,
};

const T0: Timestamp = Timestamp::from_unix_millis(1_000_000);

/// How many watches of backends not reported yet the coordinator keeps.
const AWAITED: usize = 1024;

fn sent(k: &mut Coordinator) -> Vec<(ConnId, CoordinatorToTab)> {
    std::iter::from_fn(|| k.poll_output())
        .filter_map(|out| match out {
            CoordinatorOutput::Send { to, message } => Some((to, message)),
            _ => None,
        })
        .collect()
}

fn client(n: u64) -> ClientId {
    ClientId::new(format!("c{n}")).unwrap()
}

fn backend(n: usize) -> BackendId {
    BackendId::new(format!("b{n}")).unwrap()
}

/// A coordinator whose tab 1 leads and tab 2 follows.
fn led() -> Coordinator {
    let names = LockNames::new(AppName::new("app").unwrap());
    let mut k = Coordinator::new(CoordinatorId::new("k").unwrap(), names);
    k.liveness_held(T0);
    for n in [1, 2] {
        k.connect(T0, ConnId(n));
        let hello = TabToCoordinator::Hello {
            client_id: client(n),
            build: tabworker::protocol::BUILD.into(),
            epoch: None,
            proof: format!("proof-{n}"),
        };
        k.handle(T0, ConnId(n), Ok(hello));
    }
    let claim = LeaderClaim {
        leader_id: client(1),
        liveness_key: "live-1".into(),
        epoch: None,
        backend_id: None,
        hosted: Vec::new(),
    };
    k.handle(T0, ConnId(1), Ok(TabToCoordinator::NewLeader(claim)));
    sent(&mut k);
    k
}

#[test]
fn watches_of_backends_not_reported_yet_are_kept_for_1024_backends_and_answered_past_them() {
    // A new coordinator: the tabs watch again before the leader claimed its term again here.
    let names = LockNames::new(AppName::new("app").unwrap());
    let mut k = Coordinator::new(CoordinatorId::new("k").unwrap(), names);
    k.liveness_held(T0);
    for n in [1, 2] {
        k.connect(T0, ConnId(n));
        let proof = format!("proof-{n}");
        let hello = TabToCoordinator::Hello {
            client_id: client(n),
            build: tabworker::protocol::BUILD.into(),
            epoch: None,
            proof,
        };
        k.handle(T0, ConnId(n), Ok(hello));
    }
    sent(&mut k);
    for n in 0..=AWAITED {
        k.handle(T0, ConnId(2), Ok(TabToCoordinator::Watch { backend_id: backend(n) }));
    }
    let answered = sent(&mut k);
    assert_eq!(answered.len(), AWAITED + 1, "every watch is answered");
    assert!(answered.iter().all(|(_, m)| matches!(m, CoordinatorToTab::History { states, .. } if states.is_empty())));

    // The leader claims, hosting three of them: every other one awaited is unhosted.
    let hosted = vec![backend(0), backend(AWAITED - 1), backend(AWAITED)];
    let claim =
        LeaderClaim { leader_id: client(1), liveness_key: "live-1".into(), epoch: None, backend_id: None, hosted };
    k.handle(T0, ConnId(1), Ok(TabToCoordinator::NewLeader(claim)));
    let unhosted = sent(&mut k).into_iter().filter(|(_, m)| matches!(m, CoordinatorToTab::Unhosted { .. })).count();
    assert_eq!(unhosted, AWAITED - 2, "the awaited ones the claim did not name");

    let epoch = k.leadership().unwrap().epoch;
    let scheduled = BackendState::Scheduled { time: T0 };
    for n in [0, AWAITED - 1, AWAITED] {
        let report = StatusReport { epoch, backend_id: backend(n), key: format!("k{n}"), state: scheduled.clone() };
        k.handle(T0, ConnId(1), Ok(TabToCoordinator::Status(report)));
    }
    let told: Vec<BackendId> = sent(&mut k)
        .into_iter()
        .filter_map(|(to, m)| match m {
            CoordinatorToTab::Status { backend_id, .. } if to == ConnId(2) => Some(backend_id),
            _ => None,
        })
        .collect();
    assert_eq!(told, [backend(0), backend(AWAITED - 1)], "the watch past the bound was answered and forgotten");
}

#[test]
fn a_backends_history_holds_at_most_the_8_statuses_of_the_lifecycle() {
    let at = |ms| T0.plus_millis(ms);
    let mut lifecycle = Lifecycle::new(T0);
    let reason = TerminationReason::External;
    let mut tries = 0;
    // Every move, over and over, in and out of order: only forward ones are kept.
    for round in 0..50u64 {
        for next in [
            BackendState::Loading { time: at(round) },
            BackendState::Starting { time: at(round) },
            BackendState::Ready { time: at(round) },
            BackendState::Waiting { time: at(round) },
            BackendState::Terminating { time: at(round), termination_reason: reason },
            BackendState::HardTerminating { time: at(round), termination_reason: reason },
            BackendState::Scheduled { time: at(round) },
        ] {
            tries += 1;
            let _ = lifecycle.apply(next);
        }
    }
    let _ = lifecycle.finish(at(99), false, Some(reason));
    let _ = lifecycle.terminate(at(100), TerminationKind::Hard, reason);
    assert!(tries > 300);
    let statuses: Vec<BackendStatus> = lifecycle.history().iter().map(BackendState::status).collect();
    assert!(statuses.len() <= 8, "{statuses:?}");
    assert!(statuses.windows(2).all(|w| w[0] < w[1]), "each status once, in order: {statuses:?}");
    assert_eq!(statuses.last(), Some(&BackendStatus::Terminated));
}

#[test]
fn a_tab_has_one_connection_whatever_hellos_name_its_client() {
    let mut k = led();
    for conn in 3..20 {
        k.connect(T0, ConnId(conn));
        let hello = TabToCoordinator::Hello {
            client_id: client(2),
            build: tabworker::protocol::BUILD.into(),
            epoch: None,
            proof: "proof-2".into(),
        };
        k.handle(T0, ConnId(conn), Ok(hello));
    }
    sent(&mut k);
    assert_eq!(k.clients().filter(|c| **c == client(2)).count(), 1);
    assert_eq!(k.clients().count(), 2);
}
