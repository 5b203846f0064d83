//! The backend's side of one session's channel: which requests it handles,
//! and the one answer each gets.
//!
//! The rules:
//! - a request's number must be higher than every number its caller used
//!   before on the session (a caller's numbers only grow, and a port keeps
//!   their order): one that is not is refused with `duplicate-request` and
//!   never handled;
//! - a method with no handler is refused with `no-handler`;
//! - each handled request is answered once, with its result or with
//!   `handler-error` and the thrown message; an answer after the session
//!   closed goes nowhere.

use crate::model::map::{Map, Set};

use super::frame::{ChannelFrame, RequestId};
use crate::model::code::ErrorCode;

/// What to do with a request that arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<P> {
    /// Run the handler, then give its outcome to [`Responder::answer`].
    Handle,
    /// Post this refusal; the handler does not run.
    Refuse(ChannelFrame<P>),
}

/// The backend's side of one session.
#[derive(Debug, Default)]
pub struct Responder {
    /// The last request number of each caller.
    last: Map<u32, u64>,
    /// Requests handed to their handler and not answered yet.
    running: Set<RequestId>,
    closed: bool,
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

    /// Request `id` for `method` arrived; `has_handler` says whether the
    /// backend registered one for it.
    pub fn request<P>(&mut self, id: RequestId, method: &str, has_handler: bool) -> Verdict<P> {
        let refuse = |code, message: String| Verdict::Refuse(ChannelFrame::Failure { id, code, message });
        let last = self.last.entry(id.caller()).or_default();
        if id.seq() <= *last {
            self.refused += 1;
            return refuse(ErrorCode::DuplicateRequest, format!("request {id} was already received on this session"));
        }
        *last = id.seq();
        if !has_handler {
            self.refused += 1;
            return refuse(ErrorCode::NoHandler, format!("the backend has no handler for `{method}`"));
        }
        self.running.insert(id);
        self.handled += 1;
        Verdict::Handle
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
