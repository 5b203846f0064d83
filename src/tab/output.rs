//! What a tab tells the app and asks the browser layer to do: its events
//! and outputs, and the words they use (roles, why a session ended).

use super::calls::{CallError, CallId, CallValue};
use super::watches::SubscriptionId;
use crate::model::ids::{BackendId, CoordinatorId, Epoch, SessionId};
use crate::model::locks::LockCommand;
use crate::model::status::BackendState;
use crate::protocol::{LeaderToBackend, Leadership, TabToBackend, TabToCoordinator};

/// A tab's part in the election.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The tab holds the app's leader lock.
    Leader,
    /// Another tab does, or none yet.
    Follower,
}

impl Role {
    /// `'leader'` or `'follower'`, as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The worker serving it died (its liveness lock was released).
    BackendLost,
    /// A newer leader took over.
    NewLeader,
    /// The client was destroyed.
    Destroyed,
}

impl DisconnectReason {
    /// A stable code, as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::BackendLost => "backend-lost",
            DisconnectReason::NewLeader => "new-leader",
            DisconnectReason::Destroyed => "destroyed",
        }
    }
}

/// What happened, for the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TabEvent {
    /// The coordinator welcomed this tab.
    Joined {
        /// The coordinator.
        coordinator_id: CoordinatorId,
    },
    /// This tab's role changed.
    RoleChanged(Role),
    /// A new leader announced itself.
    Leader(Leadership),
    /// A session is open; its port is the one that came with the input.
    Connected {
        /// The connect attempt.
        session_id: SessionId,
        /// The term of the leader serving it.
        epoch: Epoch,
        /// That leader's default backend, which serves it (as the leadership
        /// named it).
        backend_id: Option<BackendId>,
    },
    /// The session ended; unless the client was destroyed, a new attempt
    /// has already started.
    Disconnected {
        /// The connect attempt.
        session_id: SessionId,
        /// Why.
        reason: DisconnectReason,
    },
    /// This tab's backend worker failed to start or threw.
    BackendError {
        /// What the browser said.
        detail: String,
    },
    /// Settle the app's call `call` (its promise) with `outcome`.
    Settled {
        /// The call.
        call: CallId,
        /// What it resolves with, or why it is refused.
        outcome: Result<CallValue, CallError>,
    },
    /// Give `statusStream` subscription `subscription` its next state.
    StatusUpdate {
        /// The subscription.
        subscription: SubscriptionId,
        /// The state.
        state: BackendState,
    },
}

/// What the tab asks the browser layer to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TabOutput {
    /// Post to the coordinator (a `provide-port` takes the input's port).
    ToCoordinator(TabToCoordinator),
    /// Open a new connection to the coordinator (a new SharedWorker
    /// instance) in place of the old one, which died.
    ReconnectCoordinator,
    /// Create the worker of backend `backend_id` — this tab's own (its
    /// default backend, [`Tab::worker`](crate::Tab::worker)) or a keyed backend's — running the
    /// script of `tag` (`None`: the default backend script), and call
    /// [`Tab::worker_error`](crate::Tab::worker_error) if that fails. Its frames go to
    /// [`Tab::from_worker`](crate::Tab::from_worker).
    SpawnWorker {
        /// The backend.
        backend_id: BackendId,
        /// Its tag.
        tag: Option<String>,
    },
    /// Create the standby worker (see [`Tab::has_standby`](crate::Tab::has_standby)), running the default
    /// backend script: its frames go to [`Tab::from_standby`](crate::Tab::from_standby) and its
    /// failure to [`Tab::standby_error`](crate::Tab::standby_error) until it is adopted.
    SpawnStandby,
    /// The standby worker is the worker of backend `backend_id` from now
    /// on, as if [`TabOutput::SpawnWorker`] had created it: its frames go
    /// to [`Tab::from_worker`](crate::Tab::from_worker).
    AdoptStandby {
        /// The backend (the default one).
        backend_id: BackendId,
    },
    /// `terminate()` the standby worker.
    KillStandby,
    /// Post to the worker of backend `backend_id`.
    ToWorker {
        /// The backend.
        backend_id: BackendId,
        /// The message.
        message: LeaderToBackend,
    },
    /// `terminate()` the worker of backend `backend_id` and forget it.
    KillWorker {
        /// The backend.
        backend_id: BackendId,
    },
    /// Ask for or let go of a Web Lock: a lock granted is told to
    /// [`Tab::lock_granted`](crate::Tab::lock_granted), however long that
    /// takes, and a lock lost to [`Tab::lock_lost`](crate::Tab::lock_lost).
    Lock(LockCommand),
    /// The port of keyed session `session_id` came with the input: keep it
    /// as the session's control port, create a `MessageChannel`, post
    /// `message` on the control port with the channel's second port, keep
    /// the first as the app's port of the session, and pass each answer on
    /// the control port to [`Tab::open_answered`](crate::Tab::open_answered) (or call
    /// [`Tab::open_unsent`](crate::Tab::open_unsent) if it cannot be posted).
    OpenKeyed {
        /// The session.
        session_id: SessionId,
        /// The `open` to post.
        message: TabToBackend,
    },
    /// Close keyed session `session_id`'s ports and resolve its `closed`.
    CloseKeyed {
        /// The session.
        session_id: SessionId,
    },
    /// Tell the app.
    Event(TabEvent),
}
