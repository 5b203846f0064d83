//! The tab's side of a backend's channel: its events and requests across
//! the sessions it has with one backend (or, for the default backend and a
//! backend that reconnects, with each backend in turn).
//!
//! The rules:
//! - a send or a request made while no session is open is queued, and
//!   posted in order when the next one opens;
//! - every request settles once: with its result, its failure, `timeout`,
//!   `aborted`, or, when its session is lost, `backend-lost` if it was
//!   posted (a backend may have handled it: it is never sent again) — one
//!   still queued goes to the next session instead;
//! - once the backend ended for good (no reconnect) or the caller was
//!   destroyed, what is pending fails and nothing more is accepted.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;

use crate::model::map::Map;

use super::frame::{ChannelError, ChannelFrame, MAX_REQUEST_ID, RequestId, check_name};
use crate::model::code::ErrorCode;
use crate::model::status::BackendState;
use crate::model::time::Timestamp;

/// Why a request failed or a send was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// What happened, for people.
    pub message: String,
    /// The backend's last known state, when it was lost or ended.
    pub state: Option<BackendState>,
}

impl RequestError {
    /// An error with `code` and `message`, and no state.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RequestError { code, message: message.into(), state: None }
    }
}

/// What the caller asks the glue to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerOutput<P> {
    /// Post this frame on the open session.
    Post(ChannelFrame<P>),
    /// The request `id` settles with `outcome`.
    Settle {
        /// The request.
        id: RequestId,
        /// Its result, or why it failed.
        outcome: Result<P, RequestError>,
    },
    /// An event from the backend, for the app's listeners of `name`.
    Event {
        /// The event's name.
        name: String,
        /// Its payload.
        payload: P,
    },
}

/// Whether frames can go out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Link {
    /// No session open: before the first, or between two.
    Closed,
    /// A session is open: frames are posted at once.
    Open,
    /// The backend ended and no other follows (its final state, if known).
    Ended(Option<BackendState>),
    /// The app destroyed the caller.
    Destroyed,
}

/// A request not settled yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    /// It fails with `timeout` at this instant.
    deadline: Timestamp,
    /// Whether it was posted to a session (and so may have been handled).
    posted: bool,
}

/// The request numbers of one tab, shared by all its callers: every request
/// a tab makes is numbered above every one it made before, whichever handle
/// makes it. A session's [`Responder`](super::Responder) relies on it to tell
/// a request sent again from a new one while it remembers few callers.
#[derive(Debug, Clone, Default)]
pub struct RequestNumbers(Rc<Cell<u64>>);

impl RequestNumbers {
    /// Numbers from 1.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next number, if a JavaScript number still holds it exactly.
    fn next(&self) -> Option<u64> {
        let next = self.0.get() + 1;
        (next <= MAX_REQUEST_ID).then(|| {
            self.0.set(next);
            next
        })
    }
}

/// The tab's side of one backend's channel.
#[derive(Debug)]
pub struct Caller<P> {
    link: Link,
    /// Frames waiting for a session, in the order they were made.
    queue: VecDeque<ChannelFrame<P>>,
    pending: Map<RequestId, Pending>,
    /// This caller's number: its requests' ids carry it.
    number: u32,
    /// Its tab's request numbers.
    numbers: RequestNumbers,
    /// Answers that came for no pending request (late, after a timeout or an abort).
    late: u64,
    /// Events queued when the backend ended, which no backend received.
    undelivered: u64,
    outputs: VecDeque<CallerOutput<P>>,
}

impl<P> Caller<P> {
    /// A caller with no session open yet, numbering its requests on its own.
    /// `number` tells its requests from those of other callers on the same
    /// session: each caller of a tab has its own.
    pub fn new(number: u32) -> Self {
        Self::with_numbers(number, RequestNumbers::new())
    }

    /// A caller whose requests take their numbers from `numbers`, its tab's.
    pub fn with_numbers(number: u32, numbers: RequestNumbers) -> Self {
        Caller {
            link: Link::Closed,
            queue: VecDeque::new(),
            pending: Map::new(),
            number,
            numbers,
            late: 0,
            undelivered: 0,
            outputs: VecDeque::new(),
        }
    }

    /// Whether a session is open.
    pub fn is_open(&self) -> bool {
        self.link == Link::Open
    }

    /// How many requests are not settled.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// How many frames wait for a session.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// How many answers came for no pending request.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// How many events no backend received because the backend ended first.
    pub fn undelivered(&self) -> u64 {
        self.undelivered
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<CallerOutput<P>> {
        self.outputs.pop_front()
    }

    /// The earliest request deadline.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.pending.values().map(|p| p.deadline).min()
    }

    fn refuse_closed(&self) -> Result<(), RequestError> {
        match &self.link {
            Link::Ended(state) => Err(RequestError {
                state: state.clone(),
                ..RequestError::new(ErrorCode::BackendTerminated, "the backend ended")
            }),
            Link::Destroyed => Err(RequestError::new(ErrorCode::Destroyed, "the backend handle was destroyed")),
            Link::Closed | Link::Open => Ok(()),
        }
    }

    fn out(&mut self, frame: ChannelFrame<P>) {
        if self.link == Link::Open {
            self.outputs.push_back(CallerOutput::Post(frame));
        } else {
            self.queue.push_back(frame);
        }
    }

    /// The app sends event `name`: posted now, or queued until a session opens.
    pub fn send(&mut self, name: String, payload: P) -> Result<(), RequestError> {
        self.refuse_closed()?;
        check_name("an event name", &name).map_err(invalid)?;
        self.out(ChannelFrame::Event { name, payload });
        Ok(())
    }

    /// The app asks `method`; its answer is due within `timeout_ms`.
    pub fn request(
        &mut self,
        now: Timestamp,
        method: String,
        payload: P,
        timeout_ms: u64,
    ) -> Result<RequestId, RequestError> {
        self.refuse_closed()?;
        check_name("a method name", &method).map_err(invalid)?;
        let id = (self.numbers.next())
            .and_then(|seq| RequestId::new(self.number, seq))
            .ok_or_else(|| RequestError::new(ErrorCode::InvalidArgument, "this tab made 2^53 requests"))?;
        let posted = self.link == Link::Open;
        self.pending.insert(id, Pending { deadline: now.plus_millis(timeout_ms), posted });
        self.out(ChannelFrame::Request { id, method, payload });
        Ok(id)
    }

    /// The app aborted request `id`: it fails with `aborted` (and is not
    /// sent, if it was still queued). `false` if it had settled already.
    pub fn abort(&mut self, id: RequestId, reason: &str) -> bool {
        self.fail(id, RequestError::new(ErrorCode::Aborted, format!("the request was aborted: {reason}")))
    }

    /// Request `id` fails with `error` (the runtime could not post it, say),
    /// and is not sent if it was still queued. `false` if it had settled.
    pub fn fail(&mut self, id: RequestId, error: RequestError) -> bool {
        if self.pending.remove(&id).is_none() {
            return false;
        }
        self.unqueue(id);
        self.settle(id, Err(error));
        true
    }

    /// A session opened: everything queued goes out, in order.
    pub fn opened(&mut self) {
        if matches!(self.link, Link::Ended(_) | Link::Destroyed) {
            return;
        }
        self.link = Link::Open;
        while let Some(frame) = self.queue.pop_front() {
            if let ChannelFrame::Request { id, .. } = &frame {
                if let Some(pending) = self.pending.get_mut(id) {
                    pending.posted = true;
                }
            }
            self.outputs.push_back(CallerOutput::Post(frame));
        }
    }

    /// The session closed, and another may follow (a failover, a
    /// reconnect): what was posted and not answered fails with
    /// `backend-lost` (with the backend's last state, if known); what is
    /// queued waits for the next session.
    pub fn lost(&mut self, state: Option<BackendState>) {
        if self.link != Link::Open {
            return;
        }
        self.link = Link::Closed;
        let posted: Vec<RequestId> = self.pending.iter().filter(|(_, p)| p.posted).map(|(id, _)| *id).collect();
        for id in posted {
            self.pending.remove(&id);
            let error = RequestError {
                state: state.clone(),
                ..RequestError::new(ErrorCode::BackendLost, "the backend was lost before it answered")
            };
            self.settle(id, Err(error));
        }
    }

    /// The backend ended and no other follows: every request fails
    /// (`backend-lost` if posted, `backend-terminated` if still queued),
    /// queued events are dropped (counted), and nothing more is accepted.
    pub fn ended(&mut self, state: Option<BackendState>) {
        if matches!(self.link, Link::Ended(_) | Link::Destroyed) {
            return;
        }
        self.lost(state.clone());
        self.link = Link::Ended(state.clone());
        self.fail_all(|| RequestError {
            state: state.clone(),
            ..RequestError::new(ErrorCode::BackendTerminated, "the backend ended before the request was sent")
        });
    }

    /// The app destroyed the handle: every request fails with `destroyed`.
    pub fn destroy(&mut self) {
        if self.link == Link::Destroyed {
            return;
        }
        self.link = Link::Destroyed;
        self.fail_all(|| RequestError::new(ErrorCode::Destroyed, "the backend handle was destroyed"));
    }

    fn fail_all(&mut self, error: impl Fn() -> RequestError) {
        for frame in std::mem::take(&mut self.queue) {
            if let ChannelFrame::Event { .. } = frame {
                self.undelivered += 1;
            }
        }
        for id in std::mem::take(&mut self.pending).into_keys() {
            self.settle(id, Err(error()));
        }
    }

    /// A frame from the backend over the open session. A request is
    /// refused (backends send none); an answer to another caller's request
    /// is passed over; one to no pending request of this caller is counted
    /// as late.
    pub fn from_backend(&mut self, frame: ChannelFrame<P>) -> Result<(), ChannelError> {
        if self.link != Link::Open {
            // A frame still in the port of a session already given up.
            self.late += 1;
            return Ok(());
        }
        let (id, outcome) = match frame {
            ChannelFrame::Event { name, payload } => {
                self.outputs.push_back(CallerOutput::Event { name, payload });
                return Ok(());
            }
            ChannelFrame::Request { .. } => {
                return Err(ChannelError { code: ErrorCode::Malformed, detail: "a backend sends no requests".into() });
            }
            ChannelFrame::Result { id, payload } => (id, Ok(payload)),
            ChannelFrame::Failure { id, code, message } => (id, Err(RequestError { code, message, state: None })),
        };
        if id.caller() != self.number {
            return Ok(());
        }
        match self.pending.get(&id) {
            Some(pending) if pending.posted => {
                self.pending.remove(&id);
                self.settle(id, outcome);
            }
            // Never posted: no backend could answer it.
            Some(_) => {
                return Err(ChannelError { code: ErrorCode::Malformed, detail: format!("answer to unsent {id}") });
            }
            None => self.late += 1,
        }
        Ok(())
    }

    /// Time passed: requests past their deadline fail with `timeout`.
    pub fn timeout(&mut self, now: Timestamp) {
        let due: Vec<RequestId> = self.pending.iter().filter(|(_, p)| p.deadline <= now).map(|(id, _)| *id).collect();
        for id in due {
            self.pending.remove(&id);
            self.unqueue(id);
            self.settle(id, Err(RequestError::new(ErrorCode::Timeout, "no answer in time")));
        }
    }

    fn unqueue(&mut self, id: RequestId) {
        self.queue.retain(|frame| !matches!(frame, ChannelFrame::Request { id: queued, .. } if *queued == id));
    }

    fn settle(&mut self, id: RequestId, outcome: Result<P, RequestError>) {
        self.outputs.push_back(CallerOutput::Settle { id, outcome });
    }
}

fn invalid(error: ChannelError) -> RequestError {
    RequestError::new(ErrorCode::InvalidArgument, error.detail)
}

#[cfg(test)]
#[path = "caller_tests.rs"]
mod tests;
