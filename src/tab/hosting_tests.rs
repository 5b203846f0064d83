//! What a leader hosts: keyed backends in its fleet, reported in its term, and its default backend among them.

mod tests {
    use crate::model::ids::Epoch;
    use crate::model::locks::LockId;
    use crate::model::status::{BackendState, BackendStatus};
    use crate::protocol::{BackendToLeader, StatusReport, TabToCoordinator};
    use crate::protocol::{ConnectCall, CoordinatorToTab, LeaderToBackend, Leadership};
    use crate::tab::tests::{T0, client, drain, from_own, room};
    use crate::tab::{Tab, TabOutput};

    /// A tab that joined with no leader known, its outputs drained.
    fn joined(n: u32) -> Tab {
        let mut tab = crate::tab::tests::joined(n, None);
        drain(&mut tab);
        tab
    }

    /// A tab that leads in epoch 1.
    fn leader() -> Tab {
        let mut tab = joined(1);
        tab.lock_granted(T0, &LockId::Leader);
        from_own(&mut tab, T0, BackendToLeader::Listening);
        from_own(&mut tab, T0, BackendToLeader::Ready { liveness_key: "live-1".into() });
        let leadership = Leadership {
            leader_id: client(1),
            epoch: Epoch::new(1).unwrap(),
            liveness_key: "live-1".into(),
            backend_id: None,
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::NewLeader(leadership)));
        drain(&mut tab);
        assert_eq!(tab.leading(), Epoch::new(1).ok());
        tab
    }

    #[test]
    fn the_leader_hosts_keyed_backends_and_reports_their_states_in_its_epoch() {
        let mut tab = leader();
        let call = ConnectCall { client_id: client(2), request_id: 1, request: room(false) };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::Connect(Box::new(call))));
        let out = drain(&mut tab);
        let backend_id = match &out[..] {
            [
                TabOutput::ToCoordinator(TabToCoordinator::Status(StatusReport {
                    epoch,
                    state: BackendState::Scheduled { .. },
                    ..
                })),
                TabOutput::ToCoordinator(TabToCoordinator::Connected(answer)),
                TabOutput::SpawnWorker { backend_id, tag: None },
                TabOutput::ToCoordinator(TabToCoordinator::Status(StatusReport {
                    state: BackendState::Loading { .. },
                    ..
                })),
            ] if *epoch == Epoch::new(1).unwrap() && answer.client_id == client(2) => backend_id.clone(),
            _ => panic!("{out:?}"),
        };
        tab.from_worker(T0, &backend_id, Ok(BackendToLeader::Listening));
        let out = drain(&mut tab);
        assert!(matches!(&out[0], TabOutput::ToWorker { message: LeaderToBackend::Init { backend: Some(_), .. }, .. }));
        assert_eq!(tab.fleet().status(&backend_id), Some(BackendStatus::Starting));

        // A follower hosts nothing: it ignores connects and worker frames.
        let mut follower = joined(3);
        let call = ConnectCall { client_id: client(2), request_id: 1, request: room(false) };
        follower.from_coordinator(T0, Ok(CoordinatorToTab::Connect(Box::new(call))));
        follower.from_worker(T0, &backend_id, Ok(BackendToLeader::Listening));
        assert_eq!(drain(&mut follower), []);

        // Stepping down kills every keyed worker.
        let newer = Leadership {
            leader_id: client(4),
            epoch: Epoch::new(2).unwrap(),
            liveness_key: "live-2".into(),
            backend_id: None,
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::NewLeader(newer)));
        assert!(drain(&mut tab).contains(&TabOutput::KillWorker { backend_id }));
        assert_eq!(tab.fleet().hosted().count(), 0);
    }
}

mod default_backend_tests {
    use crate::fleet::DEFAULT_KEY;
    use crate::model::connect::ConnectRequest;
    use crate::model::ids::{BackendId, Epoch};
    use crate::model::locks::LockId;
    use crate::model::status::{BackendState, TerminationKind, TerminationReason};
    use crate::protocol::{BackendToLeader, PortGrant, PortRequest, TabToCoordinator};
    use crate::protocol::{ConnectCall, CoordinatorToTab, TerminateCall};
    use crate::protocol::{ConnectOutcome, LeaderClaim, LeaderToBackend, Leadership};
    use crate::tab::TabEvent;
    use crate::tab::tests::{T0, client, drain, from_own, is_kill, is_spawn, own_error};
    use crate::tab::{Tab, TabOutput};

    fn e(n: u64) -> Epoch {
        Epoch::new(n).unwrap()
    }

    /// A tab that leads in epoch 1, with its default backend ready.
    fn leader() -> (Tab, BackendId) {
        let mut tab = crate::tab::tests::joined(1, None);
        tab.lock_granted(T0, &LockId::Leader);
        let id = tab.fleet().default_backend().cloned().expect("hosted");
        from_own(&mut tab, T0, BackendToLeader::Listening);
        from_own(&mut tab, T0, BackendToLeader::Started);
        from_own(&mut tab, T0, BackendToLeader::Ready { liveness_key: "live-1".into() });
        let given = Leadership {
            leader_id: client(1),
            epoch: e(1),
            liveness_key: "live-1".into(),
            backend_id: Some(id.clone()),
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::NewLeader(given)));
        drain(&mut tab);
        (tab, id)
    }

    /// The states reported, as (epoch, backend, state).
    fn reports(out: &[TabOutput]) -> Vec<(Epoch, BackendId, BackendState)> {
        out.iter()
            .filter_map(|o| match o {
                TabOutput::ToCoordinator(TabToCoordinator::Status(r)) => {
                    Some((r.epoch, r.backend_id.clone(), r.state.clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn statuses_of(out: &[TabOutput], id: &BackendId) -> Vec<&'static str> {
        reports(out).into_iter().filter(|(_, b, _)| b == id).map(|(_, _, s)| s.status().as_str()).collect()
    }

    #[test]
    fn terminating_the_default_backend_ends_it_as_external_and_the_leader_starts_another_and_claims_again() {
        let (mut tab, first) = leader();
        let call = TerminateCall { client_id: client(2), backend_id: first.clone(), hard: false };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::Terminate(call)));
        let out = drain(&mut tab);
        let stop = TabOutput::ToWorker { backend_id: first.clone(), message: LeaderToBackend::Stop };
        assert!(out.contains(&stop), "{out:?}");
        assert_eq!(statuses_of(&out, &first), ["terminating"]);

        let later = T0.plus_millis(40);
        from_own(&mut tab, later, BackendToLeader::Stopped);
        let out = drain(&mut tab);
        let second = tab.fleet().default_backend().cloned().expect("a new default backend");
        assert_ne!(first, second);
        assert_eq!(out.iter().filter(|o| is_kill(o)).count(), 1);
        assert_eq!(out.iter().filter(|o| is_spawn(o)).count(), 1);
        let ended = BackendState::Terminated {
            time: later,
            termination_reason: Some(TerminationReason::External),
            termination_kind: Some(TerminationKind::Soft),
            exit_error: Some(false),
        };
        // Reported in the term the tab still holds, the end before the successor.
        assert_eq!(
            reports(&out),
            [
                (e(1), first.clone(), ended),
                (e(1), second.clone(), BackendState::Scheduled { time: later }),
                (e(1), second.clone(), BackendState::Loading { time: later }),
            ]
        );

        from_own(&mut tab, later, BackendToLeader::Listening);
        from_own(&mut tab, later, BackendToLeader::Ready { liveness_key: "live-2".into() });
        let claim = LeaderClaim {
            leader_id: client(1),
            liveness_key: "live-2".into(),
            epoch: None,
            backend_id: Some(second.clone()),
            hosted: vec![second.clone()],
        };
        let out = drain(&mut tab);
        assert_eq!(statuses_of(&out, &second), ["starting", "ready"]);
        // `ready` goes out in the term it happened in, before the claim of the next.
        let claimed =
            out.iter().position(|o| *o == TabOutput::ToCoordinator(TabToCoordinator::NewLeader(claim.clone())));
        let ready = out.iter().position(|o| {
            matches!(o, TabOutput::ToCoordinator(TabToCoordinator::Status(r))
                if r.epoch == e(1) && matches!(r.state, BackendState::Ready { .. }))
        });
        assert!(matches!((ready, claimed), (Some(r), Some(c)) if r < c), "{out:?}");
    }

    #[test]
    fn a_default_worker_that_dies_ends_with_exit_error_and_is_replaced() {
        let (mut tab, first) = leader();
        tab.lock_granted(T0, &LockId::Liveness("live-1".into()));
        let out = drain(&mut tab);
        let second = tab.fleet().default_backend().cloned().expect("a new default backend");
        assert_ne!(first, second);
        let ended = reports(&out).into_iter().find(|(_, b, _)| *b == first).map(|(_, _, s)| s);
        assert!(matches!(ended, Some(BackendState::Terminated { exit_error: Some(true), .. })), "{ended:?}");
        assert_eq!(out.iter().filter(|o| is_spawn(o)).count(), 1);
    }

    #[test]
    fn a_default_worker_that_throws_after_it_was_ready_ends_with_exit_error_and_is_replaced_at_once() {
        let (mut tab, first) = leader();
        own_error(&mut tab, T0, "Uncaught Error: boom".into());
        let out = drain(&mut tab);
        let ended = reports(&out).into_iter().find(|(_, b, _)| *b == first).map(|(e, _, s)| (e, s));
        assert!(
            matches!(ended, Some((epoch, BackendState::Terminated { exit_error: Some(true), .. })) if epoch == e(1)),
            "{ended:?}"
        );
        let kill = out.iter().position(is_kill);
        let spawn = out.iter().position(is_spawn);
        assert!(matches!((kill, spawn), (Some(k), Some(s)) if k < s), "{out:?}");
        assert!(out.contains(&TabOutput::Event(TabEvent::BackendError { detail: "Uncaught Error: boom".into() })));
        assert!(tab.fleet().default_backend().is_some_and(|id| *id != first));
    }

    #[test]
    fn a_default_worker_not_ready_in_time_ends_with_startup_timeout_and_another_starts_after_a_pause() {
        let mut tab = crate::tab::tests::joined(1, None);
        tab.lock_granted(T0, &LockId::Leader);
        let first = tab.fleet().default_backend().cloned().unwrap();
        drain(&mut tab);
        let deadline = tab.poll_timeout().expect("a start deadline");
        tab.timeout(deadline);
        let out = drain(&mut tab);
        assert!(out.iter().any(is_kill));
        assert!(!out.iter().any(is_spawn), "not at once");
        assert_eq!(tab.fleet().default_backend(), None);
        assert_eq!(tab.fleet().status(&first), Some(crate::model::status::BackendStatus::Terminated));
        let history = tab.fleet().history(&first);
        assert!(
            matches!(
                history.last(),
                Some(BackendState::Terminated { termination_reason: Some(TerminationReason::StartupTimeout), .. })
            ),
            "{history:?}"
        );
        let pause = tab.poll_timeout().expect("a respawn");
        tab.timeout(pause);
        assert!(drain(&mut tab).iter().any(is_spawn));
        assert!(tab.fleet().default_backend().is_some_and(|id| *id != first));
    }

    #[test]
    fn the_default_key_reaches_the_default_backend_whose_tokens_go_to_the_tabs_own_worker() {
        let (mut tab, id) = leader();
        let request = ConnectRequest { key: Some(DEFAULT_KEY.into()), ..ConnectRequest::default() };
        let call = ConnectCall { client_id: client(2), request_id: 7, request };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::Connect(Box::new(call))));
        let out = drain(&mut tab);
        let admitted = out.iter().find_map(|o| match o {
            TabOutput::ToWorker { backend_id, message: LeaderToBackend::Admit(a) } if *backend_id == id => {
                Some(a.token.clone())
            }
            _ => None,
        });
        let answer = out.iter().find_map(|o| match o {
            TabOutput::ToCoordinator(TabToCoordinator::Connected(a)) => Some(a.outcome.clone()),
            _ => None,
        });
        let Some(ConnectOutcome::Response(response)) = answer else { panic!("{out:?}") };
        assert_eq!((response.backend_id, response.spawned), (id.clone(), false));
        assert_eq!(admitted, Some(response.token));

        // A session by token: asked of the fleet, started by the tab's own worker.
        let request = PortRequest {
            client_id: client(2),
            session_id: crate::model::ids::SessionId::new("c2.9").unwrap(),
            backend_id: Some(id.clone()),
        };
        tab.from_coordinator(T0, Ok(CoordinatorToTab::RequestPort(request.clone())));
        let message = LeaderToBackend::StartSession(request.clone());
        assert_eq!(drain(&mut tab), [TabOutput::ToWorker { backend_id: id.clone(), message }]);
        from_own(&mut tab, T0, BackendToLeader::Session(request.clone()));
        let grant =
            PortGrant { client_id: client(2), session_id: request.session_id, epoch: e(1), backend_id: Some(id) };
        assert_eq!(drain(&mut tab), [TabOutput::ToCoordinator(TabToCoordinator::ProvidePort(grant))]);
    }
}
