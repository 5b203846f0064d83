use super::*;
use crate::model::status::{BackendStatus, TerminationReason};

fn at(ms: u64) -> Timestamp {
    Timestamp::from_unix_millis(1_700_000_000_000 + ms)
}

fn drain(caller: &mut Caller<&'static str>) -> Vec<CallerOutput<&'static str>> {
    std::iter::from_fn(|| caller.poll_output()).collect()
}

fn posted(outputs: &[CallerOutput<&'static str>]) -> Vec<String> {
    outputs
        .iter()
        .filter_map(|o| match o {
            CallerOutput::Post(ChannelFrame::Event { name, .. }) => Some(format!("event {name}")),
            CallerOutput::Post(ChannelFrame::Request { id, method, .. }) => {
                Some(format!("request {} {method}", id.seq()))
            }
            _ => None,
        })
        .collect()
}

fn settled(outputs: &[CallerOutput<&'static str>]) -> Vec<(u64, Result<&'static str, ErrorCode>)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            CallerOutput::Settle { id, outcome } => Some((id.seq(), outcome.clone().map_err(|e| e.code))),
            _ => None,
        })
        .collect()
}

fn id(n: u64) -> RequestId {
    RequestId::new(1, n).unwrap()
}

fn terminated() -> BackendState {
    BackendState::Terminated {
        time: at(5),
        termination_reason: Some(TerminationReason::Lost),
        termination_kind: None,
        exit_error: None,
    }
}

#[test]
fn sends_and_requests_made_before_the_session_opens_go_out_in_order_when_it_does() {
    let mut caller = Caller::new(1);
    caller.send("a".into(), "1").unwrap();
    caller.request(at(0), "m".into(), "2", 1_000).unwrap();
    caller.send("b".into(), "3").unwrap();
    assert!(drain(&mut caller).is_empty(), "nothing goes out before a session");
    assert_eq!(caller.queued(), 3);
    caller.opened();
    assert_eq!(posted(&drain(&mut caller)), ["event a", "request 1 m", "event b"]);
    caller.send("c".into(), "4").unwrap();
    assert_eq!(posted(&drain(&mut caller)), ["event c"], "once open, a send goes out at once");
}

#[test]
fn answers_settle_their_own_requests_whatever_the_order() {
    let mut caller = Caller::new(1);
    caller.opened();
    for n in 0..3 {
        caller.request(at(0), "m".into(), "x", 1_000).unwrap();
        assert_eq!(caller.in_flight(), n + 1);
    }
    drain(&mut caller);
    caller.from_backend(ChannelFrame::Result { id: id(3), payload: "three" }).unwrap();
    let failure = ChannelFrame::Failure { id: id(1), code: ErrorCode::HandlerError, message: "boom".into() };
    caller.from_backend(failure).unwrap();
    caller.from_backend(ChannelFrame::Result { id: id(2), payload: "two" }).unwrap();
    let outcome = settled(&drain(&mut caller));
    assert_eq!(outcome, [(3, Ok("three")), (1, Err(ErrorCode::HandlerError)), (2, Ok("two"))]);
    assert_eq!(caller.in_flight(), 0);
    // A second answer to a settled request is late, not a second settlement.
    caller.from_backend(ChannelFrame::Result { id: id(2), payload: "again" }).unwrap();
    assert!(drain(&mut caller).is_empty());
    assert_eq!(caller.late(), 1);
}

#[test]
fn a_lost_session_fails_what_was_posted_with_backend_lost_and_keeps_what_was_queued_for_the_next() {
    let mut caller = Caller::new(1);
    caller.opened();
    caller.request(at(0), "accepted".into(), "x", 10_000).unwrap();
    drain(&mut caller);
    caller.lost(Some(terminated()));
    let outputs = drain(&mut caller);
    assert_eq!(settled(&outputs), [(1, Err(ErrorCode::BackendLost))]);
    let CallerOutput::Settle { outcome: Err(error), .. } = &outputs[0] else { unreachable!() };
    assert_eq!(error.state.as_ref().map(|s| s.status()), Some(BackendStatus::Terminated), "it carries the state");
    // Between two sessions: queued, then sent to the successor, once.
    caller.request(at(1), "waiting".into(), "y", 10_000).unwrap();
    caller.send("e".into(), "z").unwrap();
    caller.opened();
    assert_eq!(posted(&drain(&mut caller)), ["request 2 waiting", "event e"]);
    caller.from_backend(ChannelFrame::Result { id: id(2), payload: "done" }).unwrap();
    assert_eq!(settled(&drain(&mut caller)), [(2, Ok("done"))]);
}

#[test]
fn no_request_is_posted_twice_across_sessions() {
    let mut caller = Caller::new(1);
    let mut sent = Vec::new();
    caller.opened();
    caller.request(at(0), "one".into(), "x", 10_000).unwrap();
    sent.extend(posted(&drain(&mut caller)));
    caller.lost(None);
    caller.request(at(0), "two".into(), "x", 10_000).unwrap();
    caller.opened();
    sent.extend(posted(&drain(&mut caller)));
    caller.lost(None);
    caller.opened();
    sent.extend(posted(&drain(&mut caller)));
    assert_eq!(sent, ["request 1 one", "request 2 two"]);
}

#[test]
fn requests_time_out_and_abort_once_and_a_queued_one_is_then_never_sent() {
    let mut caller = Caller::new(1);
    caller.request(at(0), "slow".into(), "x", 100).unwrap();
    caller.request(at(0), "aborted".into(), "x", 1_000).unwrap();
    caller.request(at(0), "kept".into(), "x", 1_000).unwrap();
    assert_eq!(caller.poll_timeout(), Some(at(100)));
    caller.timeout(at(99));
    assert!(drain(&mut caller).is_empty(), "nothing is due before its deadline");
    caller.timeout(at(100));
    assert!(caller.abort(id(2), "the user left"));
    assert!(!caller.abort(id(2), "again"), "a settled request is not aborted twice");
    assert_eq!(settled(&drain(&mut caller)), [(1, Err(ErrorCode::Timeout)), (2, Err(ErrorCode::Aborted))]);
    caller.opened();
    assert_eq!(posted(&drain(&mut caller)), ["request 3 kept"]);
    assert_eq!(caller.poll_timeout(), Some(at(1_000)));
}

#[test]
fn an_ended_backend_fails_everything_pending_and_refuses_what_follows() {
    let mut caller = Caller::new(1);
    caller.opened();
    caller.request(at(0), "posted".into(), "x", 1_000).unwrap();
    caller.lost(None);
    caller.request(at(0), "queued".into(), "x", 1_000).unwrap();
    caller.send("e".into(), "x").unwrap();
    drain(&mut caller);
    caller.ended(Some(terminated()));
    assert_eq!(settled(&drain(&mut caller)), [(2, Err(ErrorCode::BackendTerminated))]);
    assert_eq!(caller.undelivered(), 1, "the queued event is counted, not silently lost");
    assert_eq!(caller.send("e".into(), "x").unwrap_err().code, ErrorCode::BackendTerminated);
    let refused = caller.request(at(0), "m".into(), "x", 1_000).unwrap_err();
    assert_eq!(
        (refused.code, refused.state.map(|s| s.status())),
        (ErrorCode::BackendTerminated, Some(BackendStatus::Terminated))
    );
    caller.opened();
    assert!(!caller.is_open(), "an ended channel does not open again");
}

#[test]
fn a_destroyed_caller_fails_pending_requests_and_refuses_new_ones() {
    let mut caller = Caller::new(1);
    caller.request(at(0), "m".into(), "x", 1_000).unwrap();
    caller.destroy();
    assert_eq!(settled(&drain(&mut caller)), [(1, Err(ErrorCode::Destroyed))]);
    assert_eq!(caller.send("e".into(), "x").unwrap_err().code, ErrorCode::Destroyed);
    assert_eq!(caller.poll_timeout(), None);
}

#[test]
fn bad_names_and_frames_from_the_backend_are_typed_errors() {
    let mut caller = Caller::new(1);
    assert_eq!(caller.send(String::new(), "x").unwrap_err().code, ErrorCode::InvalidArgument);
    assert_eq!(caller.request(at(0), "m".repeat(300), "x", 1).unwrap_err().code, ErrorCode::InvalidArgument);
    caller.request(at(0), "queued".into(), "x", 1_000).unwrap();
    caller.opened();
    caller.lost(None);
    caller.request(at(0), "unsent".into(), "x", 1_000).unwrap();
    drain(&mut caller);
    caller.opened();
    drain(&mut caller);
    let request = ChannelFrame::Request { id: id(9), method: "m".into(), payload: "x" };
    assert_eq!(caller.from_backend(request).unwrap_err().code, ErrorCode::Malformed);
    caller.from_backend(ChannelFrame::Event { name: "tick".into(), payload: "1" }).unwrap();
    assert_eq!(drain(&mut caller), [CallerOutput::Event { name: "tick".into(), payload: "1" }]);
}

#[test]
fn answers_to_another_callers_requests_on_a_shared_session_are_passed_over() {
    let mut first = Caller::new(1);
    let mut second = Caller::<&'static str>::new(2);
    first.opened();
    second.opened();
    let mine = first.request(at(0), "m".into(), "x", 1_000).unwrap();
    let theirs = second.request(at(0), "m".into(), "x", 1_000).unwrap();
    assert_eq!(mine.seq(), theirs.seq(), "each caller counts its own");
    assert_ne!(mine, theirs, "but their ids differ");
    drain(&mut first);
    first.from_backend(ChannelFrame::Result { id: theirs, payload: "not mine" }).unwrap();
    assert!(drain(&mut first).is_empty());
    assert_eq!((first.in_flight(), first.late()), (1, 0));
    first.from_backend(ChannelFrame::Result { id: mine, payload: "mine" }).unwrap();
    assert_eq!(settled(&drain(&mut first)), [(1, Ok("mine"))]);
}

#[test]
fn the_callers_of_one_tab_number_their_requests_from_one_count() {
    let numbers = RequestNumbers::new();
    let mut first = Caller::<&'static str>::with_numbers(1, numbers.clone());
    let mut second = Caller::<&'static str>::with_numbers(2, numbers);
    first.opened();
    let a = first.request(at(0), "m".into(), "x", 1_000).unwrap();
    // The second caller's requests are queued until its session opens: numbered now all the same.
    let b = second.request(at(0), "m".into(), "x", 1_000).unwrap();
    let c = first.request(at(0), "m".into(), "x", 1_000).unwrap();
    assert_eq!([a.seq(), b.seq(), c.seq()], [1, 2, 3], "each above every request the tab made before");
    assert_eq!((a.caller(), b.caller(), c.caller()), (1, 2, 1));
}
