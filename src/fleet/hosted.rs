//! One backend the leader hosts: what its `init` will carry, its open
//! sessions, the session requests waiting for it to be ready, and its
//! timers.

use crate::model::map::Set;

use crate::model::ids::SessionId;
use crate::model::time::Timestamp;
use crate::model::timers::{TimerKind, Timers};
use crate::protocol::{BackendInit, PortRequest};

/// A hosted backend's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// Not `ready` in time: `hard-terminating`, `startup_timeout`.
    Startup,
    /// `lifetime_limit_seconds` since `scheduled`: swept softly.
    Lifetime,
    /// `max_idle_seconds` with no open session: swept softly.
    Idle,
    /// A soft termination's grace: then hard.
    Grace,
}

impl TimerKind for Timer {
    const COUNT: usize = 4;
    const ALL: &'static [Timer] = &[Timer::Startup, Timer::Lifetime, Timer::Idle, Timer::Grace];

    fn slot(self) -> usize {
        self as usize
    }
}

/// What a due timer asks of the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Due {
    /// The grace of a soft termination ran out: terminate it hard.
    Grace,
    /// Not ready in time.
    Startup,
    /// Past its lifetime or idle too long: sweep it softly.
    Sweep,
}

/// One hosted backend's worker, sessions and timers.
#[derive(Debug)]
pub(super) struct Hosted {
    /// What `init` will give it; taken when the worker said `listening`
    /// and was sent `init`.
    pub(super) init: Option<BackendInit>,
    /// Open sessions.
    sessions: Set<SessionId>,
    /// Session requests waiting for `ready`.
    queued: Vec<PortRequest>,
    /// Session requests sent to the worker, whose `session` has not come back.
    asked: Vec<PortRequest>,
    max_idle_ms: Option<u64>,
    timers: Timers<Timer>,
}

impl Hosted {
    /// A backend to be given `init`, with no session and no timer yet.
    pub(super) fn new(init: BackendInit) -> Self {
        Hosted {
            init: Some(init),
            sessions: Set::new(),
            queued: Vec::new(),
            asked: Vec::new(),
            max_idle_ms: None,
            timers: Timers::default(),
        }
    }

    /// A backend scheduled at `now`, with the limits of its spawn config.
    pub(super) fn limited(
        init: BackendInit,
        now: Timestamp,
        startup_ms: u64,
        lifetime_ms: Option<u64>,
        max_idle_ms: Option<u64>,
    ) -> Self {
        let mut hosted = Hosted { max_idle_ms, ..Hosted::new(init) };
        hosted.timers.set(Timer::Startup, now.plus_millis(startup_ms));
        hosted.timers.set_opt(Timer::Lifetime, lifetime_ms.map(|ms| now.plus_millis(ms)));
        hosted
    }

    /// Whether it was sent `init` (it said `listening`).
    pub(super) fn listening(&self) -> bool {
        self.init.is_none()
    }

    /// How many sessions are open.
    pub(super) fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// A session opened (the worker answered what was asked): it is not idle.
    pub(super) fn session_opened(&mut self, session_id: SessionId) {
        self.asked.retain(|r| r.session_id != session_id);
        self.sessions.insert(session_id);
        self.timers.stop(Timer::Idle);
    }

    /// A session closed; the last one of a ready backend starts the idle
    /// timer.
    pub(super) fn session_closed(&mut self, now: Timestamp, session_id: &SessionId, ready: bool) {
        if self.sessions.remove(session_id) && self.sessions.is_empty() && ready {
            self.idle_from(now);
        }
    }

    /// A session request made before `ready`: it waits.
    pub(super) fn queue(&mut self, request: PortRequest) {
        self.queued.push(request);
    }

    /// A session request sent to the worker: it waits for its `session`.
    pub(super) fn ask(&mut self, request: PortRequest) {
        self.asked.push(request);
    }

    /// The requests that waited, taken.
    pub(super) fn take_queued(&mut self) -> Vec<PortRequest> {
        std::mem::take(&mut self.queued)
    }

    /// It is ready: no startup limit any more, idle if no session is open.
    /// Returns the requests that waited for it, now asked of the worker.
    pub(super) fn ready(&mut self, now: Timestamp) -> Vec<PortRequest> {
        self.timers.stop(Timer::Startup);
        if self.sessions.is_empty() {
            self.idle_from(now);
        }
        let queued = self.take_queued();
        self.asked.extend(queued.iter().cloned());
        queued
    }

    /// The requests asked of the worker that it never answered (it is gone).
    pub(super) fn unanswered(self) -> Vec<PortRequest> {
        self.asked
    }

    /// A soft termination began: only its grace runs now.
    pub(super) fn stopping(&mut self, now: Timestamp, grace_ms: u64) {
        for timer in [Timer::Startup, Timer::Lifetime, Timer::Idle] {
            self.timers.stop(timer);
        }
        self.timers.set(Timer::Grace, now.plus_millis(grace_ms));
    }

    /// The earliest deadline.
    pub(super) fn deadline(&self) -> Option<Timestamp> {
        self.timers.next()
    }

    /// What is due at `now`, the grace first.
    pub(super) fn due(&self, now: Timestamp) -> Option<Due> {
        if self.timers.is_due(Timer::Grace, now) {
            Some(Due::Grace)
        } else if self.timers.is_due(Timer::Startup, now) {
            Some(Due::Startup)
        } else if self.timers.is_due(Timer::Lifetime, now) || self.timers.is_due(Timer::Idle, now) {
            Some(Due::Sweep)
        } else {
            None
        }
    }

    fn idle_from(&mut self, now: Timestamp) {
        self.timers.set_opt(Timer::Idle, self.max_idle_ms.map(|ms| now.plus_millis(ms)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::{BackendId, ClientId};

    fn init() -> BackendInit {
        let backend_id = BackendId::new("b").unwrap();
        BackendInit { backend_id, key: "k".into(), env: Default::default(), mount: None, admitted: Vec::new() }
    }

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_unix_millis(1_000 + ms)
    }

    #[test]
    fn idle_counts_only_from_ready_or_the_last_session_closing() {
        let mut hosted = Hosted::limited(init(), at(0), 100, None, Some(50));
        assert_eq!(hosted.deadline(), Some(at(100)), "only the startup limit before ready");
        hosted.session_opened(SessionId::new("s").unwrap());
        assert!(hosted.ready(at(10)).is_empty());
        assert_eq!(hosted.deadline(), None, "ready with a session open: no timer");
        hosted.session_closed(at(20), &SessionId::new("s").unwrap(), true);
        assert_eq!(hosted.deadline(), Some(at(70)));
        assert_eq!((hosted.due(at(69)), hosted.due(at(70))), (None, Some(Due::Sweep)));
    }

    #[test]
    fn a_soft_stop_leaves_only_its_grace_which_comes_first() {
        let mut hosted = Hosted::limited(init(), at(0), 100, Some(30), None);
        let request = PortRequest {
            client_id: ClientId::new("c").unwrap(),
            session_id: SessionId::new("s").unwrap(),
            backend_id: None,
        };
        hosted.queue(request.clone());
        assert_eq!(hosted.due(at(30)), Some(Due::Sweep));
        hosted.stopping(at(30), 500);
        assert_eq!(hosted.deadline(), Some(at(530)));
        assert_eq!(hosted.due(at(529)), None, "the startup and lifetime limits are gone");
        assert_eq!(hosted.due(at(530)), Some(Due::Grace));
        assert_eq!(hosted.take_queued(), [request]);
    }
}
