//! The tab's session with its leader's default backend: one connect attempt
//! at a time, each keyed by its own id (so that a reconnect always gets a
//! fresh session at the backend), and the numbering of every attempt of the
//! tab, keyed sessions' too.
//!
//! The rules: an attempt first takes its session lock; holding it, it waits
//! for a live leader (a follower asks `who-leads` with backoff, in case a
//! `new-leader` was lost), then sends `request-port`; a request left
//! unanswered, a newer leader, or the death of the leader's worker ends the
//! attempt, and a new one starts. The wait before an attempt is abandoned
//! doubles from [`FIRST_RETRY_MS`] up to [`MAX_RETRY_MS`], and goes back to
//! the first once a session opens.

use super::calls::{CallError, CallId, CallValue, Calls};
use super::outbox::Outbox;
use super::output::{DisconnectReason, TabEvent};
use super::stages::{FIRST_RETRY_MS, MAX_RETRY_MS, Retry};
use crate::model::ids::{ClientId, Epoch, SessionId};
use crate::model::locks::{LockId, LockMode};
use crate::model::time::Timestamp;
use crate::protocol::{PortGrant, PortRequest, TabToCoordinator};

/// Where the current attempt is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// Not connecting (before `welcome`, after destroy).
    Off,
    /// Waiting for the attempt's session lock.
    Locking { attempt: SessionId },
    /// Holding the session lock; waiting for a live leader. A follower
    /// asks the coordinator `who-leads` at `ask` (armed once joined).
    Waiting { attempt: SessionId, ask: Option<Retry> },
    /// `request-port` sent to the leader of `epoch`.
    Requested { attempt: SessionId, epoch: Epoch, retry_at: Timestamp },
    /// Connected to the backend of the leader of `epoch`.
    Connected { attempt: SessionId, epoch: Epoch },
}

impl Stage {
    fn attempt(&self) -> Option<&SessionId> {
        match self {
            Stage::Off => None,
            Stage::Locking { attempt }
            | Stage::Waiting { attempt, .. }
            | Stage::Requested { attempt, .. }
            | Stage::Connected { attempt, .. } => Some(attempt),
        }
    }
}

/// The default session, and the tab's attempt numbers.
#[derive(Debug)]
pub(super) struct DefaultSession {
    client: ClientId,
    stage: Stage,
    attempts: u64,
    retry_ms: u64,
    /// The app's `connected()` calls that wait for a session to open.
    waiting: Vec<CallId>,
}

impl DefaultSession {
    /// No attempt yet, for the tab of `client`.
    pub(super) fn new(client: ClientId) -> Self {
        DefaultSession { client, stage: Stage::Off, attempts: 0, retry_ms: FIRST_RETRY_MS, waiting: Vec::new() }
    }

    /// The open session: its attempt and the epoch of the leader serving it.
    pub(super) fn connected(&self) -> Option<(&SessionId, Epoch)> {
        match &self.stage {
            Stage::Connected { attempt, epoch } => Some((attempt, *epoch)),
            _ => None,
        }
    }

    /// Whether an attempt holds its lock and waits for a live leader.
    pub(super) fn is_waiting(&self) -> bool {
        matches!(self.stage, Stage::Waiting { .. })
    }

    /// The current wait before an unanswered attempt is abandoned (also the
    /// pause before a failed worker is replaced).
    pub(super) fn retry_ms(&self) -> u64 {
        self.retry_ms
    }

    /// A new attempt id; sessions with keyed backends draw from the same
    /// counter.
    pub(super) fn next_attempt_id(&mut self) -> SessionId {
        self.attempts += 1;
        // The client id is unique and the counter rises, so the attempt id is unique too.
        SessionId::new(format!("{}.{}", self.client, self.attempts)).unwrap_or_else(|_| self.short_attempt())
    }

    /// For a client id near the length limit: a hash of it stands in.
    fn short_attempt(&self) -> SessionId {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        self.client.hash(&mut hasher);
        // Two hex numbers: non-empty, short, no control characters.
        SessionId::new(format!("{:x}.{}", hasher.finish(), self.attempts))
            .unwrap_or_else(|_| unreachable!("a short ASCII id is valid"))
    }

    /// A new attempt, of any session: its id, and its session lock asked for.
    pub(super) fn lock_attempt(&mut self, out: &mut Outbox) -> SessionId {
        let attempt = self.next_attempt_id();
        out.acquire(LockId::Session(attempt.clone()), LockMode::Exclusive);
        attempt
    }

    /// A new connect attempt: first its session lock.
    pub(super) fn begin(&mut self, out: &mut Outbox) {
        self.stage = Stage::Locking { attempt: self.lock_attempt(out) };
    }

    /// Ends the current attempt: its lock is released, so the backend closes
    /// its session if it opened one; the app is told of an open one's end
    /// when there is a `reason`.
    pub(super) fn end(&mut self, reason: Option<DisconnectReason>, out: &mut Outbox) {
        let Some(attempt) = self.stage.attempt().cloned() else { return };
        let connected = matches!(self.stage, Stage::Connected { .. });
        self.stage = Stage::Off;
        out.release(LockId::Session(attempt.clone()));
        if let (true, Some(reason)) = (connected, reason) {
            out.event(TabEvent::Disconnected { session_id: attempt, reason });
        }
    }

    /// Ends the current attempt and begins another.
    pub(super) fn renew(&mut self, reason: Option<DisconnectReason>, out: &mut Outbox) {
        self.end(reason, out);
        self.begin(out);
    }

    /// The session lock `granted` was granted: `true` if it is the current
    /// attempt's, which waits for a live leader from now on.
    pub(super) fn granted(&mut self, granted: &SessionId) -> bool {
        match &self.stage {
            Stage::Locking { attempt } if attempt == granted => {
                self.stage = Stage::Waiting { attempt: attempt.clone(), ask: None };
                true
            }
            _ => false,
        }
    }

    /// Sends the waiting attempt's `request-port` to the leader of `live`,
    /// the newest epoch known to have a live worker; if none is known, arms
    /// the question for one.
    pub(super) fn request(&mut self, now: Timestamp, live: Option<Epoch>, out: &mut Outbox) {
        let Stage::Waiting { attempt, ask } = &mut self.stage else { return };
        let Some(epoch) = live else {
            ask.get_or_insert(Retry::first(now));
            return;
        };
        let attempt = attempt.clone();
        let request = PortRequest { client_id: self.client.clone(), session_id: attempt.clone(), backend_id: None };
        out.send(TabToCoordinator::RequestPort(request));
        self.stage = Stage::Requested { attempt, epoch, retry_at: now.plus_millis(self.retry_ms) };
    }

    /// The port of `grant` arrived: the attempt and epoch of the session it
    /// opens, if it is the one asked for.
    pub(super) fn provided(&mut self, grant: &PortGrant) -> Option<(SessionId, Epoch)> {
        match &self.stage {
            Stage::Requested { attempt, epoch, .. }
                if grant.client_id == self.client && grant.session_id == *attempt && grant.epoch == *epoch =>
            {
                let (attempt, epoch) = (attempt.clone(), *epoch);
                self.stage = Stage::Connected { attempt: attempt.clone(), epoch };
                self.retry_ms = FIRST_RETRY_MS;
                Some((attempt, epoch))
            }
            _ => None,
        }
    }

    /// The worker of the leader of `epoch` died: a session with it ends
    /// (`backend-lost`), a request to it is made again.
    pub(super) fn lost(&mut self, epoch: Epoch, out: &mut Outbox) {
        match &self.stage {
            Stage::Connected { epoch: e, .. } if *e == epoch => self.renew(Some(DisconnectReason::BackendLost), out),
            Stage::Requested { epoch: e, .. } if *e == epoch => self.renew(None, out),
            _ => {}
        }
    }

    /// A newer leader is known: a request to an older one is made again
    /// with a fresh attempt (unless `asked`: the waiting attempt asked the
    /// new one already), and an open session ends (`new-leader`).
    pub(super) fn new_leader(&mut self, asked: bool, out: &mut Outbox) {
        match &self.stage {
            Stage::Requested { .. } if !asked => self.renew(None, out),
            Stage::Connected { .. } => self.renew(Some(DisconnectReason::NewLeader), out),
            _ => {}
        }
    }

    /// The coordinator died: a request in flight went with it, and is made
    /// again with a fresh attempt.
    pub(super) fn coordinator_lost(&mut self, out: &mut Outbox) {
        if matches!(self.stage, Stage::Requested { .. }) {
            self.renew(None, out);
        }
    }

    /// A coordinator welcomed the tab: an attempt begins if none is under
    /// way, and a waiting one asks the leader of `live`.
    pub(super) fn welcomed(&mut self, now: Timestamp, live: Option<Epoch>, out: &mut Outbox) {
        match self.stage {
            Stage::Off => self.begin(out),
            Stage::Waiting { .. } => self.request(now, live, out),
            _ => {}
        }
    }

    /// The tab leaves: the attempt ends (`destroyed`), and none follows.
    /// (The calls still waiting are refused with every other call.)
    pub(super) fn destroy(&mut self, out: &mut Outbox) {
        self.end(Some(DisconnectReason::Destroyed), out);
        self.stage = Stage::Off;
        self.waiting.clear();
    }

    /// The app's `connected()`: a call settled with the open session, at
    /// once or when the next one opens; refused once the tab `left`. It
    /// waits for as long as it takes (a tab not yet joined included).
    pub(super) fn wait(&mut self, left: bool, calls: &mut Calls, out: &mut Outbox) -> CallId {
        if left {
            // Refused at once: it never waits.
            return out.refuse(calls, CallError::destroyed());
        }
        let call = calls.wait();
        self.waiting.push(call);
        self.settle_waiting(calls, out);
        call
    }

    /// Settles the `connected()` calls waiting, if a session is open.
    pub(super) fn settle_waiting(&mut self, calls: &mut Calls, out: &mut Outbox) {
        let Stage::Connected { attempt, .. } = &self.stage else { return };
        for call in std::mem::take(&mut self.waiting) {
            out.settle(calls, call, Ok(CallValue::DefaultSession(attempt.clone())));
        }
    }

    /// When [`DefaultSession::timeout`] is due: the abandon time of a
    /// request, or, while `asking` (a joined follower), the time to ask
    /// `who-leads`.
    pub(super) fn poll_timeout(&self, asking: bool) -> Option<Timestamp> {
        match &self.stage {
            Stage::Requested { retry_at, .. } => Some(*retry_at),
            Stage::Waiting { ask: Some(ask), .. } if asking => Some(ask.at),
            _ => None,
        }
    }

    /// Time passed: a request left unanswered is abandoned for a new
    /// attempt, waiting longer; while `asking`, a waiting attempt asks for
    /// the leadership (a `new-leader` may have been lost).
    pub(super) fn timeout(&mut self, now: Timestamp, asking: bool, out: &mut Outbox) {
        if matches!(self.stage, Stage::Requested { retry_at, .. } if retry_at <= now) {
            self.retry_ms = (self.retry_ms * 2).min(MAX_RETRY_MS);
            self.renew(None, out);
        }
        if let Stage::Waiting { ask: Some(ask), .. } = &mut self.stage {
            if asking && ask.at <= now {
                *ask = ask.next(now);
                out.send(TabToCoordinator::WhoLeads);
            }
        }
    }
}
