#![cfg(not(target_arch = "wasm32"))]
//! One test per rule of `tabworker::Lifecycle`.

use std::collections::BTreeSet;

use tabworker::{
    BackendState, BackendStatus, Lifecycle, TerminationKind, TerminationReason, Timestamp, TransitionError,
};

const REASONS: [TerminationReason; 5] = [
    TerminationReason::Swept,
    TerminationReason::External,
    TerminationReason::KeyExpired,
    TerminationReason::Lost,
    TerminationReason::StartupTimeout,
];

fn at(millis: u64) -> Timestamp {
    "2026-11-22T10:00:00.000Z".parse::<Timestamp>().unwrap().plus_millis(millis)
}

/// A state of `status` at `time`; terminations carry `reason`, and
/// `terminated` carries `reason` and `kind`.
fn state(
    status: BackendStatus,
    time: Timestamp,
    reason: TerminationReason,
    kind: Option<TerminationKind>,
) -> BackendState {
    match status {
        BackendStatus::Scheduled => BackendState::Scheduled { time },
        BackendStatus::Loading => BackendState::Loading { time },
        BackendStatus::Starting => BackendState::Starting { time },
        BackendStatus::Waiting => BackendState::Waiting { time },
        BackendStatus::Ready => BackendState::Ready { time },
        BackendStatus::Terminating => BackendState::Terminating { time, termination_reason: reason },
        BackendStatus::HardTerminating => BackendState::HardTerminating { time, termination_reason: reason },
        BackendStatus::Terminated => BackendState::Terminated {
            time,
            termination_reason: Some(reason),
            termination_kind: kind,
            exit_error: Some(false),
        },
    }
}

/// The state that validly follows `from` into `to`: after a termination
/// under way, `to` carries its reason and (for `terminated`) its kind.
fn valid_next(from: BackendStatus, to: BackendStatus, time: Timestamp, reason: TerminationReason) -> BackendState {
    let kind = match from {
        BackendStatus::Terminating => Some(TerminationKind::Soft),
        BackendStatus::HardTerminating => Some(TerminationKind::Hard),
        _ => None,
    };
    state(to, time, reason, kind)
}

/// A lifecycle scheduled at `at(0)` that has moved straight to `status`.
fn lifecycle_at(status: BackendStatus, reason: TerminationReason) -> Lifecycle {
    let mut lifecycle = Lifecycle::new(at(0));
    if status != BackendStatus::Scheduled {
        lifecycle.apply(state(status, at(10), reason, None)).unwrap();
    }
    assert_eq!(lifecycle.status(), status);
    lifecycle
}

/// Applies `next` and checks it is refused with `expected`, leaving the
/// lifecycle exactly as it was.
fn assert_refused(lifecycle: &mut Lifecycle, next: BackendState, expected: TransitionError) {
    let before = lifecycle.clone();
    let result = lifecycle.apply(next.clone()).cloned();
    assert_eq!(result, Err(expected), "applying {next:?} after {:?}", before.state());
    assert_eq!(*lifecycle, before, "a refused transition changed the lifecycle");
}

#[test]
fn statuses_are_ordered_from_scheduled_to_terminated() {
    use BackendStatus::*;
    assert_eq!(
        BackendStatus::ALL,
        [Scheduled, Loading, Starting, Waiting, Ready, Terminating, HardTerminating, Terminated]
    );
    assert!(BackendStatus::ALL.windows(2).all(|w| w[0] < w[1]), "ALL is strictly increasing under Ord");
    for (i, a) in BackendStatus::ALL.iter().enumerate() {
        for (j, b) in BackendStatus::ALL.iter().enumerate() {
            assert_eq!(a.cmp(b), i.cmp(&j), "{a} vs {b}");
        }
    }
}

#[test]
fn a_new_lifecycle_is_scheduled_at_the_given_time() {
    let lifecycle = Lifecycle::new(at(0));
    assert_eq!(lifecycle.state(), &BackendState::Scheduled { time: at(0) });
    assert_eq!(lifecycle.status(), BackendStatus::Scheduled);
    assert_eq!(lifecycle.history(), [BackendState::Scheduled { time: at(0) }]);
    assert!(!lifecycle.is_terminated());
}

#[test]
fn every_forward_move_to_a_valid_state_is_accepted() {
    let mut checked = 0;
    for from in BackendStatus::ALL {
        for to in BackendStatus::ALL.into_iter().filter(|&to| to > from) {
            for reason in REASONS {
                let mut lifecycle = lifecycle_at(from, reason);
                let next = valid_next(from, to, at(20), reason);
                assert_eq!(lifecycle.apply(next.clone()), Ok(&next), "{from} → {to} ({reason:?})");
                assert_eq!(lifecycle.status(), to);
                assert_eq!(lifecycle.is_terminated(), to == BackendStatus::Terminated);
                checked += 1;
            }
        }
    }
    // 7 + 6 + … + 1 forward pairs, each with every reason.
    assert_eq!(checked, 28 * REASONS.len());
}

#[test]
fn skipping_statuses_is_allowed() {
    let mut lifecycle = Lifecycle::new(at(0));
    lifecycle.apply(BackendState::Ready { time: at(1) }).unwrap();
    let lost = BackendState::Terminated {
        time: at(2),
        termination_reason: Some(TerminationReason::Lost),
        termination_kind: None,
        exit_error: None,
    };
    assert_eq!(lifecycle.apply(lost.clone()), Ok(&lost));
    assert!(lifecycle.is_terminated());

    let mut straight_to_hard = Lifecycle::new(at(0));
    let hard = BackendState::HardTerminating { time: at(1), termination_reason: TerminationReason::StartupTimeout };
    assert_eq!(straight_to_hard.apply(hard.clone()), Ok(&hard));
}

#[test]
fn every_backward_or_same_status_move_is_refused_as_not_forward() {
    let mut checked = 0;
    for from in BackendStatus::ALL.into_iter().filter(|&s| s != BackendStatus::Terminated) {
        for to in BackendStatus::ALL.into_iter().filter(|&to| to <= from) {
            let reason = TerminationReason::External;
            let mut lifecycle = lifecycle_at(from, reason);
            // Even a state that carries the termination under way's reason and
            // kind is refused when it does not move forward.
            let next = valid_next(from, to, at(20), reason);
            assert_refused(&mut lifecycle, next, TransitionError::NotForward { from, to });
            checked += 1;
        }
    }
    assert_eq!(checked, 1 + 2 + 3 + 4 + 5 + 6 + 7);
}

#[test]
fn terminating_may_escalate_to_hard_terminating_but_never_back() {
    let reason = TerminationReason::Swept;
    let mut lifecycle = lifecycle_at(BackendStatus::Terminating, reason);
    let hard = BackendState::HardTerminating { time: at(20), termination_reason: reason };
    assert_eq!(lifecycle.apply(hard.clone()), Ok(&hard));

    assert_refused(
        &mut lifecycle,
        BackendState::Terminating { time: at(30), termination_reason: reason },
        TransitionError::NotForward { from: BackendStatus::HardTerminating, to: BackendStatus::Terminating },
    );
}

#[test]
fn nothing_follows_terminated() {
    for ended_from in [BackendStatus::Ready, BackendStatus::Terminating, BackendStatus::HardTerminating] {
        let mut lifecycle = lifecycle_at(ended_from, TerminationReason::Lost);
        lifecycle.finish(at(20), false, Some(TerminationReason::Lost)).unwrap();
        for to in BackendStatus::ALL {
            let next = state(to, at(30), TerminationReason::Lost, Some(TerminationKind::Hard));
            assert_refused(&mut lifecycle, next, TransitionError::AlreadyTerminated { to });
        }
        let before = lifecycle.clone();
        assert_eq!(
            lifecycle.terminate(at(40), TerminationKind::Hard, TerminationReason::External).cloned(),
            Err(TransitionError::AlreadyTerminated { to: BackendStatus::HardTerminating })
        );
        assert_eq!(
            lifecycle.finish(at(40), true, None).cloned(),
            Err(TransitionError::AlreadyTerminated { to: BackendStatus::Terminated })
        );
        assert_eq!(lifecycle, before);
    }
}

#[test]
fn terminate_moves_soft_to_terminating_and_hard_to_hard_terminating() {
    let mut soft = lifecycle_at(BackendStatus::Ready, TerminationReason::Lost);
    assert_eq!(
        soft.terminate(at(20), TerminationKind::Soft, TerminationReason::KeyExpired),
        Ok(&BackendState::Terminating { time: at(20), termination_reason: TerminationReason::KeyExpired })
    );
    let mut hard = lifecycle_at(BackendStatus::Waiting, TerminationReason::Lost);
    assert_eq!(
        hard.terminate(at(20), TerminationKind::Hard, TerminationReason::StartupTimeout),
        Ok(&BackendState::HardTerminating { time: at(20), termination_reason: TerminationReason::StartupTimeout })
    );
}

#[test]
fn escalating_a_termination_keeps_its_first_reason() {
    for first in REASONS {
        for second in REASONS {
            let mut lifecycle = lifecycle_at(BackendStatus::Ready, first);
            lifecycle.terminate(at(20), TerminationKind::Soft, first).unwrap();
            assert_eq!(
                lifecycle.terminate(at(30), TerminationKind::Hard, second),
                Ok(&BackendState::HardTerminating { time: at(30), termination_reason: first }),
                "escalating {first:?} with {second:?}"
            );
        }
    }
}

#[test]
fn a_second_soft_termination_is_refused() {
    let mut lifecycle = lifecycle_at(BackendStatus::Terminating, TerminationReason::Swept);
    let before = lifecycle.clone();
    assert_eq!(
        lifecycle.terminate(at(20), TerminationKind::Soft, TerminationReason::External).cloned(),
        Err(TransitionError::NotForward { from: BackendStatus::Terminating, to: BackendStatus::Terminating })
    );
    assert_eq!(lifecycle, before);
}

#[test]
fn hard_terminating_must_carry_the_reason_of_the_terminating_before_it() {
    for under_way in REASONS {
        for given in REASONS.into_iter().filter(|&r| r != under_way) {
            let mut lifecycle = lifecycle_at(BackendStatus::Terminating, under_way);
            assert_refused(
                &mut lifecycle,
                BackendState::HardTerminating { time: at(20), termination_reason: given },
                TransitionError::ReasonMismatch {
                    to: BackendStatus::HardTerminating,
                    expected: under_way,
                    found: Some(given),
                },
            );
        }
    }
}

#[test]
fn terminated_after_a_termination_must_carry_its_reason() {
    for from in [BackendStatus::Terminating, BackendStatus::HardTerminating] {
        let kind = if from == BackendStatus::Terminating { TerminationKind::Soft } else { TerminationKind::Hard };
        let mut lifecycle = lifecycle_at(from, TerminationReason::KeyExpired);
        for found in [None, Some(TerminationReason::Lost), Some(TerminationReason::Swept)] {
            assert_refused(
                &mut lifecycle,
                BackendState::Terminated {
                    time: at(20),
                    termination_reason: found,
                    termination_kind: Some(kind),
                    exit_error: None,
                },
                TransitionError::ReasonMismatch {
                    to: BackendStatus::Terminated,
                    expected: TerminationReason::KeyExpired,
                    found,
                },
            );
        }
    }
}

#[test]
fn terminated_after_terminating_must_be_of_kind_soft() {
    let mut lifecycle = lifecycle_at(BackendStatus::Terminating, TerminationReason::External);
    for found in [None, Some(TerminationKind::Hard)] {
        assert_refused(
            &mut lifecycle,
            BackendState::Terminated {
                time: at(20),
                termination_reason: Some(TerminationReason::External),
                termination_kind: found,
                exit_error: Some(false),
            },
            TransitionError::KindMismatch { from: BackendStatus::Terminating, expected: TerminationKind::Soft, found },
        );
    }
    let soft = BackendState::Terminated {
        time: at(20),
        termination_reason: Some(TerminationReason::External),
        termination_kind: Some(TerminationKind::Soft),
        exit_error: Some(false),
    };
    assert_eq!(lifecycle.apply(soft.clone()), Ok(&soft));
}

#[test]
fn terminated_after_hard_terminating_must_be_of_kind_hard() {
    let mut lifecycle = lifecycle_at(BackendStatus::HardTerminating, TerminationReason::Swept);
    for found in [None, Some(TerminationKind::Soft)] {
        assert_refused(
            &mut lifecycle,
            BackendState::Terminated {
                time: at(20),
                termination_reason: Some(TerminationReason::Swept),
                termination_kind: found,
                exit_error: None,
            },
            TransitionError::KindMismatch {
                from: BackendStatus::HardTerminating,
                expected: TerminationKind::Hard,
                found,
            },
        );
    }
    let hard = BackendState::Terminated {
        time: at(20),
        termination_reason: Some(TerminationReason::Swept),
        termination_kind: Some(TerminationKind::Hard),
        exit_error: None,
    };
    assert_eq!(lifecycle.apply(hard.clone()), Ok(&hard));
}

#[test]
fn finish_carries_the_reason_and_kind_of_the_termination_under_way() {
    for (from, kind) in
        [(BackendStatus::Terminating, TerminationKind::Soft), (BackendStatus::HardTerminating, TerminationKind::Hard)]
    {
        for reason in REASONS {
            let mut lifecycle = lifecycle_at(from, reason);
            // The reason given to finish is ignored: the termination's stands.
            let given = Some(TerminationReason::Lost).filter(|_| reason != TerminationReason::Lost);
            assert_eq!(
                lifecycle.finish(at(20), false, given),
                Ok(&BackendState::Terminated {
                    time: at(20),
                    termination_reason: Some(reason),
                    termination_kind: Some(kind),
                    exit_error: Some(false),
                }),
                "finishing after {from} for {reason:?}"
            );
        }
    }
}

#[test]
fn finish_without_a_termination_carries_the_given_reason_and_no_kind() {
    for status in [BackendStatus::Scheduled, BackendStatus::Loading, BackendStatus::Starting, BackendStatus::Ready] {
        for reason in [None, Some(TerminationReason::Lost), Some(TerminationReason::KeyExpired)] {
            let mut lifecycle = lifecycle_at(status, TerminationReason::Lost);
            assert_eq!(
                lifecycle.finish(at(20), false, reason),
                Ok(&BackendState::Terminated {
                    time: at(20),
                    termination_reason: reason,
                    termination_kind: None,
                    exit_error: Some(false),
                }),
                "finishing from {status} with {reason:?}"
            );
        }
    }
}

#[test]
fn finish_carries_exit_error() {
    for exit_error in [true, false] {
        for from in [BackendStatus::Ready, BackendStatus::Terminating, BackendStatus::HardTerminating] {
            let mut lifecycle = lifecycle_at(from, TerminationReason::External);
            let end = lifecycle.finish(at(20), exit_error, None).unwrap().clone();
            assert!(
                matches!(end, BackendState::Terminated { exit_error: Some(e), .. } if e == exit_error),
                "{end:?} after {from} should carry exit_error {exit_error}"
            );
        }
    }
}

#[test]
fn a_refused_transition_leaves_state_and_history_unchanged() {
    let mut lifecycle = Lifecycle::new(at(0));
    lifecycle.apply(BackendState::Loading { time: at(1) }).unwrap();
    lifecycle.terminate(at(2), TerminationKind::Soft, TerminationReason::External).unwrap();
    let state_before = lifecycle.state().clone();
    let history_before = lifecycle.history().to_vec();

    let refusals = [
        BackendState::Ready { time: at(3) },
        BackendState::HardTerminating { time: at(3), termination_reason: TerminationReason::Lost },
        BackendState::Terminated {
            time: at(3),
            termination_reason: Some(TerminationReason::External),
            termination_kind: Some(TerminationKind::Hard),
            exit_error: None,
        },
    ];
    for next in refusals {
        assert!(lifecycle.apply(next).is_err());
        assert_eq!(lifecycle.state(), &state_before);
        assert_eq!(lifecycle.history(), history_before.as_slice());
    }
    assert!(lifecycle.terminate(at(4), TerminationKind::Soft, TerminationReason::Swept).is_err());
    assert_eq!(lifecycle.history(), history_before.as_slice());
    assert_eq!(lifecycle.status(), BackendStatus::Terminating);
}

#[test]
fn history_lists_every_state_oldest_first() {
    let mut lifecycle = Lifecycle::new(at(0));
    let mut expected = vec![BackendState::Scheduled { time: at(0) }];
    for next in [
        BackendState::Loading { time: at(5) },
        BackendState::Starting { time: at(10) },
        BackendState::Ready { time: at(40) },
    ] {
        lifecycle.apply(next.clone()).unwrap();
        expected.push(next);
    }
    // A refused move is not recorded.
    assert!(lifecycle.apply(BackendState::Waiting { time: at(45) }).is_err());
    lifecycle.terminate(at(50), TerminationKind::Soft, TerminationReason::Swept).unwrap();
    expected.push(BackendState::Terminating { time: at(50), termination_reason: TerminationReason::Swept });
    lifecycle.terminate(at(55), TerminationKind::Hard, TerminationReason::External).unwrap();
    expected.push(BackendState::HardTerminating { time: at(55), termination_reason: TerminationReason::Swept });
    lifecycle.finish(at(60), true, None).unwrap();
    expected.push(BackendState::Terminated {
        time: at(60),
        termination_reason: Some(TerminationReason::Swept),
        termination_kind: Some(TerminationKind::Hard),
        exit_error: Some(true),
    });

    assert_eq!(lifecycle.history(), expected.as_slice());
    assert_eq!(lifecycle.state(), expected.last().unwrap());
    let statuses: Vec<BackendStatus> = lifecycle.history().iter().map(BackendState::status).collect();
    assert!(statuses.windows(2).all(|w| w[0] < w[1]), "history statuses rise: {statuses:?}");
}

#[test]
fn each_transition_error_has_a_distinct_stable_code() {
    let errors = [
        (TransitionError::AlreadyTerminated { to: BackendStatus::Ready }, "already-terminated"),
        (TransitionError::NotForward { from: BackendStatus::Ready, to: BackendStatus::Loading }, "not-forward"),
        (
            TransitionError::ReasonMismatch {
                to: BackendStatus::Terminated,
                expected: TerminationReason::Swept,
                found: None,
            },
            "reason-mismatch",
        ),
        (
            TransitionError::KindMismatch {
                from: BackendStatus::Terminating,
                expected: TerminationKind::Soft,
                found: None,
            },
            "kind-mismatch",
        ),
    ];
    for (error, code) in &errors {
        assert_eq!(error.code().as_str(), *code, "{error}");
        assert!(!error.to_string().is_empty());
    }
    let codes: BTreeSet<tabworker::ErrorCode> = errors.iter().map(|(e, _)| e.code()).collect();
    assert_eq!(codes.len(), errors.len(), "codes are not distinct: {codes:?}");
}
