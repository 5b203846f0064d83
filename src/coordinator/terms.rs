//! The leaders' terms: who leads, in which epoch, on which connection, and
//! which epochs may no longer be given.
//!
//! The rules:
//! - each claim gets the next epoch after every one known here (the last
//!   leader's, or the newest a tab said it knows, the floor);
//! - a leader that claims again from a new coordinator (the old one died)
//!   keeps its term while no tab knows a newer one, so its sessions live on;
//!   the same term claimed twice is a new term;
//! - the same claim again from the leader's own connection, without an
//!   epoch (its answer was lost), is answered with the term already given,
//!   to the claimant alone, unless a tab said it knows a newer one since;
//! - a leader that claims again on its own connection (its default backend
//!   was replaced) may still send what it made in its term before, until it
//!   speaks in the new one.

use super::admission;
use crate::model::code::ErrorCode;
use crate::model::ids::{ConnId, Epoch};
use crate::protocol::{LeaderClaim, Leadership};

/// What a claim leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Claimed {
    /// The term already given, to the claimant alone.
    Again(Leadership),
    /// A new term, to every tab; `previous` was the leader's connection
    /// before it.
    New { leadership: Leadership, previous: Option<ConnId> },
}

/// The terms given so far.
#[derive(Debug)]
pub(super) struct Terms {
    /// The highest leadership announced, and its connection while it is open.
    leadership: Option<(Leadership, Option<ConnId>)>,
    /// The first of the terms the current leader held on its connection
    /// before it claimed its current one there, while it has not spoken in
    /// the current one yet: its keyed ports and states of those terms are
    /// still its own.
    earlier: Option<Epoch>,
    /// The newest epoch any tab said it knows: no epoch at or below it is
    /// given again (a coordinator may start after another one died).
    floor: Epoch,
}

impl Default for Terms {
    fn default() -> Self {
        Terms { leadership: None, earlier: None, floor: Epoch::ZERO }
    }
}

impl Terms {
    /// The highest leadership announced so far.
    pub(super) fn leadership(&self) -> Option<&Leadership> {
        self.leadership.as_ref().map(|(l, _)| l)
    }

    /// The leadership whose connection is open, if any.
    pub(super) fn connected(&self) -> Option<&Leadership> {
        match &self.leadership {
            Some((leadership, Some(_))) => Some(leadership),
            _ => None,
        }
    }

    /// The current epoch and the leader's connection, while it is open.
    pub(super) fn leader(&self) -> Option<(Epoch, ConnId)> {
        match &self.leadership {
            Some((leadership, Some(conn))) => Some((leadership.epoch, *conn)),
            _ => None,
        }
    }

    /// The newest epoch known here: its leader's, or one a tab said it knows.
    pub(super) fn newest(&self) -> Epoch {
        self.leadership().map_or(Epoch::ZERO, |l| l.epoch).max(self.floor)
    }

    /// Why `epoch`, said by a tab, is not credible (too far above every
    /// epoch known here), if it is not.
    pub(super) fn incredible(&self, epoch: Epoch) -> Option<String> {
        admission::incredible(self.newest(), epoch)
    }

    /// A tab said it knows `epoch`: no epoch at or below it is given again.
    pub(super) fn heard_of(&mut self, epoch: Epoch) {
        self.floor = self.floor.max(epoch);
    }

    /// The leader on `conn` claims with `claim`: its term, or why not.
    pub(super) fn claim(&mut self, conn: ConnId, claim: &LeaderClaim) -> Result<Claimed, (ErrorCode, String)> {
        if let Some(detail) = claim.epoch.and_then(|kept| self.incredible(kept)) {
            return Err((ErrorCode::EpochOutOfRange, detail));
        }
        if let Some((given, Some(leader))) = &self.leadership {
            let same = claim.leader_id == given.leader_id
                && claim.liveness_key == given.liveness_key
                && claim.backend_id == given.backend_id;
            if claim.epoch.is_none() && same && *leader == conn && given.epoch >= self.floor {
                return Ok(Claimed::Again(given.clone()));
            }
        }
        let current = self.newest();
        let epoch = match claim.epoch {
            Some(kept) if kept >= current && self.leadership().is_none_or(|l| kept > l.epoch) => kept,
            _ => current.next().ok_or_else(|| (ErrorCode::EpochsExhausted, format!("no epoch after {current}")))?,
        };
        self.floor = epoch;
        let previous = self.leader();
        self.earlier = match previous {
            Some((previous, leader)) if leader == conn => self.earlier.or(Some(previous)),
            _ => None,
        };
        let leadership = Leadership {
            leader_id: claim.leader_id.clone(),
            epoch,
            liveness_key: claim.liveness_key.clone(),
            backend_id: claim.backend_id.clone(),
        };
        self.leadership = Some((leadership.clone(), Some(conn)));
        Ok(Claimed::New { leadership, previous: previous.map(|(_, conn)| conn) })
    }

    /// `conn` closed: `true` if it was the leader's (its term stays the
    /// newest, with no connection).
    pub(super) fn left(&mut self, conn: ConnId) -> bool {
        match &mut self.leadership {
            Some((_, leader)) if *leader == Some(conn) => {
                *leader = None;
                true
            }
            _ => false,
        }
    }

    /// Whether a frame of the current leader stamped `stamped` is of one of
    /// its terms (`current`, or one it held before it claimed again on its
    /// connection and has not spoken in `current` since). A frame stamped
    /// `current` ends the earlier terms: none of theirs follows it.
    pub(super) fn is_own(&mut self, stamped: Epoch, current: Epoch) -> bool {
        if stamped == current {
            self.earlier = None;
            return true;
        }
        self.earlier.is_some_and(|first| first <= stamped && stamped < current)
    }
}
