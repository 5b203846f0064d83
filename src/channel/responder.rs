//! The backend's side of one session's channel: which requests it handles,
//! and the one answer each gets.
//!
//! The rules:
//! - a request's number must be higher than every number its caller used
//!   before on the session (a caller's numbers only grow, and a port keeps
//!   their order): one that is not is refused with `duplicate-request` and
//!   never handled;
//! - the session remembers the last number of at most [`MAX_CALLERS`]
//!   callers (a tab's handles). Past that, the caller that sent least
//!   recently is forgotten, and the session's floor rises to its last
//!   number. A tab numbers all its requests from one count, whichever
//!   handle makes them ([`RequestNumbers`](super::RequestNumbers)), so a
//!   new request of a forgotten caller is numbered above the floor and is
//!   handled, while one at or below it could only be a request sent again:
//!   it is refused with `forgotten-caller` and never handled;
//! - a method with no handler is refused with `no-handler`;
//! - at most [`MAX_RUNNING`] handlers run at once on a session: a request
//!   past them is refused with `too-many-pending` and never handled;
//! - each handled request is answered once, with its result or with
//!   `handler-error` and the thrown message; an answer after the session
//!   closed goes nowhere.
//!
//! So however many frames a session carries, each costs a binary search of
//! at most [`MAX_CALLERS`] entries, and a caller not seen before at most
//! one pass over them.

use crate::model::map::{Map, Set};

use super::frame::{ChannelFrame, RequestId};
use crate::model::code::ErrorCode;

/// The most callers whose last request number one session remembers.
pub const MAX_CALLERS: usize = 256;

/// The most requests one session's handlers run at once.
pub const MAX_RUNNING: usize = 1024;

/// What to do with a request that arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<P> {
    /// Run the handler, then give its outcome to [`Responder::answer`].
    Handle,
    /// Post this refusal; the handler does not run.
    Refuse(ChannelFrame<P>),
}

/// A caller's last request number, and when it sent it.
#[derive(Debug, Clone, Copy)]
struct Seen {
    seq: u64,
    /// The responder's count of requests when it sent it.
    at: u64,
}

/// The backend's side of one session.
#[derive(Debug, Default)]
pub struct Responder {
    /// The last request number of each caller remembered.
    last: Map<u32, Seen>,
    /// The highest last request number of a caller forgotten: a caller not
    /// remembered may have sent any number at or below it.
    floor: u64,
    /// Requests handed to their handler and not answered yet.
    running: Set<RequestId>,
    closed: bool,
    requests: u64,
    handled: u64,
    refused: u64,
}

impl Responder {
    /// A session's responder, before any request.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many requests went to a handler.
    pub fn handled(&self) -> u64 {
        self.handled
    }

    /// How many requests were refused.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// How many handlers are running.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// How many callers' numbers are remembered: at most [`MAX_CALLERS`].
    pub fn callers(&self) -> usize {
        self.last.len()
    }

    /// Request `id` for `method` arrived; `has_handler` says whether the
    /// backend registered one for it.
    pub fn request<P>(&mut self, id: RequestId, method: &str, has_handler: bool) -> Verdict<P> {
        let refuse = |code, message: String| Verdict::Refuse(ChannelFrame::Failure { id, code, message });
        self.requests += 1;
        let now = Seen { seq: id.seq(), at: self.requests };
        match self.last.get_mut(&id.caller()) {
            Some(last) if id.seq() <= last.seq => {
                self.refused += 1;
                return refuse(
                    ErrorCode::DuplicateRequest,
                    format!("request {id} was already received on this session"),
                );
            }
            Some(last) => *last = now,
            None if id.seq() <= self.floor => {
                self.refused += 1;
                let message = format!(
                    "request {id}: this session no longer remembers caller {}, and the number is not above what it forgot (it keeps the last {MAX_CALLERS} callers)",
                    id.caller()
                );
                return refuse(ErrorCode::ForgottenCaller, message);
            }
            None => {
                if self.last.len() >= MAX_CALLERS {
                    self.forget_least_recent();
                }
                self.last.insert(id.caller(), now);
            }
        }
        if !has_handler {
            self.refused += 1;
            return refuse(ErrorCode::NoHandler, format!("the backend has no handler for `{method}`"));
        }
        if self.running.len() >= MAX_RUNNING {
            self.refused += 1;
            let message = format!("request {id}: {MAX_RUNNING} requests of this session are running already");
            return refuse(ErrorCode::TooManyPending, message);
        }
        self.running.insert(id);
        self.handled += 1;
        Verdict::Handle
    }

    /// Forgets the caller that sent least recently, raising the floor to
    /// its last number.
    fn forget_least_recent(&mut self) {
        let Some((caller, seen)) = self.last.iter().min_by_key(|(_, seen)| seen.at).map(|(c, s)| (*c, *s)) else {
            return;
        };
        self.last.remove(&caller);
        self.floor = self.floor.max(seen.seq);
    }

    /// The handler of `id` finished with `outcome` (`Err`: what it threw).
    /// The frame to post, unless the request was not running or the
    /// session closed.
    pub fn answer<P>(&mut self, id: RequestId, outcome: Result<P, String>) -> Option<ChannelFrame<P>> {
        if !self.running.remove(&id) || self.closed {
            return None;
        }
        Some(match outcome {
            Ok(payload) => ChannelFrame::Result { id, payload },
            Err(message) => ChannelFrame::Failure { id, code: ErrorCode::HandlerError, message },
        })
    }

    /// The session closed: running handlers' answers go nowhere.
    pub fn close(&mut self) {
        self.closed = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> RequestId {
        RequestId::new(1, n).unwrap()
    }

    fn code<P>(verdict: Verdict<P>) -> Option<ErrorCode> {
        match verdict {
            Verdict::Handle => None,
            Verdict::Refuse(ChannelFrame::Failure { code, .. }) => Some(code),
            Verdict::Refuse(_) => unreachable!("a refusal is a failure"),
        }
    }

    #[test]
    fn a_request_is_handled_once_and_answered_once() {
        let mut responder = Responder::new();
        assert_eq!(responder.request::<&str>(id(1), "add", true), Verdict::Handle);
        assert_eq!(responder.answer(id(1), Ok("3")), Some(ChannelFrame::Result { id: id(1), payload: "3" }));
        assert_eq!(responder.answer(id(1), Ok("3")), None, "a second answer goes nowhere");
        assert_eq!(responder.handled(), 1);
    }

    #[test]
    fn a_repeated_or_older_id_is_refused_as_a_duplicate_and_not_handled() {
        let mut responder = Responder::new();
        assert_eq!(code::<()>(responder.request(id(5), "add", true)), None);
        assert_eq!(code::<()>(responder.request(id(5), "add", true)), Some(ErrorCode::DuplicateRequest));
        assert_eq!(code::<()>(responder.request(id(3), "add", true)), Some(ErrorCode::DuplicateRequest));
        assert_eq!(code::<()>(responder.request(id(6), "add", true)), None);
        let other = RequestId::new(2, 1).unwrap();
        assert_eq!(code::<()>(responder.request(other, "add", true)), None, "another caller counts on its own");
        assert_eq!((responder.handled(), responder.refused()), (3, 2));
    }

    fn caller(caller: u32, n: u64) -> RequestId {
        RequestId::new(caller, n).unwrap()
    }

    /// Request `id` of a handler that answers at once, as a native backend's
    /// does: the code it was refused with, if it was.
    fn run(responder: &mut Responder, id: RequestId) -> Option<ErrorCode> {
        let refused = code::<()>(responder.request(id, "add", true));
        if refused.is_none() {
            assert!(responder.answer::<()>(id, Ok(())).is_some());
        }
        refused
    }

    #[test]
    fn a_flood_of_callers_keeps_the_table_bounded_and_each_request_refused_or_handled_once() {
        // 200,000 handles of one tab, each sending one request, numbered from the tab's one count.
        let mut responder = Responder::new();
        for n in 1..=200_000u32 {
            assert_eq!(run(&mut responder, caller(n, n.into())), None, "caller {n}");
            assert!(responder.callers() <= MAX_CALLERS);
        }
        assert_eq!(responder.handled(), 200_000);
        // Each of them sent again: every one refused, as a duplicate or as forgotten, none handled.
        for n in 1..=200_000u32 {
            let refused = run(&mut responder, caller(n, n.into()));
            assert!(
                matches!(refused, Some(ErrorCode::DuplicateRequest | ErrorCode::ForgottenCaller)),
                "{n}: {refused:?}"
            );
            assert!(responder.callers() <= MAX_CALLERS);
        }
        assert_eq!((responder.handled(), responder.refused()), (200_000, 200_000));
    }

    #[test]
    fn at_most_so_many_handlers_run_at_once_and_one_more_may_run_once_one_answered() {
        let mut responder = Responder::new();
        for n in 1..=MAX_RUNNING as u64 {
            assert_eq!(code::<()>(responder.request(caller(n as u32 % 7, n), "slow", true)), None);
        }
        let past = caller(9, 1);
        assert_eq!(code::<()>(responder.request(past, "slow", true)), Some(ErrorCode::TooManyPending));
        assert_eq!(responder.answer::<()>(past, Ok(())), None, "it never ran");
        assert_eq!(responder.running(), MAX_RUNNING);
        assert!(responder.answer::<()>(caller(1, 1), Ok(())).is_some());
        assert_eq!(code::<()>(responder.request(caller(9, 2), "slow", true)), None);
        assert_eq!(code::<()>(responder.request(caller(9, 1), "slow", true)), Some(ErrorCode::DuplicateRequest));
    }

    #[test]
    fn a_forgotten_callers_request_sent_again_is_refused_and_its_new_one_handled() {
        let mut responder = Responder::new();
        // The tab's one count numbers every request, whichever handle makes it.
        let mut count = 0;
        let mut next = || {
            count += 1;
            count
        };
        let quiet = caller(1, next());
        assert_eq!(run(&mut responder, quiet), None);
        for other in 2..=MAX_CALLERS as u32 {
            assert_eq!(run(&mut responder, caller(other, next())), None);
        }
        assert_eq!(run(&mut responder, quiet), Some(ErrorCode::DuplicateRequest));
        // One caller more: caller 1, which sent least recently, is forgotten.
        assert_eq!(run(&mut responder, caller(MAX_CALLERS as u32 + 1, next())), None);
        assert_eq!(responder.callers(), MAX_CALLERS);
        assert_eq!(run(&mut responder, quiet), Some(ErrorCode::ForgottenCaller), "sent again: never handled twice");
        // Its next request is numbered above everything the session forgot: handled.
        assert_eq!(run(&mut responder, caller(1, next())), None, "a quiet handle is still served");
        assert_eq!(responder.handled(), MAX_CALLERS as u64 + 2);
    }

    #[test]
    fn a_caller_that_sends_stays_remembered_and_its_duplicates_refused() {
        let mut responder = Responder::new();
        let mut seq = 0;
        for other in 2..20_000u32 {
            seq += 1;
            assert_eq!(run(&mut responder, caller(1, seq)), None);
            seq += 1;
            run(&mut responder, caller(other, seq));
        }
        assert_eq!(run(&mut responder, caller(1, seq - 1)), Some(ErrorCode::DuplicateRequest));
        assert_eq!(run(&mut responder, caller(1, seq + 1)), None);
    }

    #[test]
    fn a_method_without_handler_is_refused_and_a_thrown_error_is_a_handler_error() {
        let mut responder = Responder::new();
        assert_eq!(code::<()>(responder.request(id(1), "nope", false)), Some(ErrorCode::NoHandler));
        responder.request::<()>(id(2), "boom", true);
        let failure = responder.answer::<()>(id(2), Err("it broke".into()));
        let expected = ChannelFrame::Failure { id: id(2), code: ErrorCode::HandlerError, message: "it broke".into() };
        assert_eq!(failure, Some(expected));
    }

    #[test]
    fn answers_after_the_session_closed_go_nowhere() {
        let mut responder = Responder::new();
        responder.request::<()>(id(1), "slow", true);
        assert_eq!(responder.running(), 1);
        responder.close();
        assert_eq!(responder.answer(id(1), Ok(())), None);
        assert_eq!(responder.running(), 0);
    }
}
