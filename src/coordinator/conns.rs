//! The coordinator's open connections: each is silent until its `hello`,
//! and has until its deadline ([`HELLO_TIMEOUT_MS`] after it opened) to say
//! it. The deadlines of the silent ones are the coordinator's only timers.

use crate::model::map::Map;

use crate::model::ids::{ClientId, ConnId};
use crate::model::time::Timestamp;

/// How long a new connection may stay silent before its `hello`; a
/// connection that has not said it by then is closed.
///
/// A tab says `hello` as soon as its own tab lock is granted, and nobody
/// else ever asks for that lock: normally within a millisecond of
/// connecting. Only a page frozen or starved of its event loop right after
/// it connected (a long synchronous script, a throttled background tab) is
/// slower, so the limit is generous, 10 s, ten times the tab's own
/// [`WELCOME_TIMEOUT_MS`](crate::WELCOME_TIMEOUT_MS). Erring is cheap both
/// ways: a tab whose connection was closed under it is not welcomed and says
/// `hello` again on a new connection after its welcome timeout, and a dead
/// tab's connection costs the coordinator only a port and an entry until
/// then.
pub const HELLO_TIMEOUT_MS: u64 = 10_000;

/// An open connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Conn {
    /// No `hello` yet: closed at `deadline` unless one comes.
    Silent {
        /// When it is closed.
        deadline: Timestamp,
    },
    /// Said `hello` as this client, with this proof.
    Introduced(ClientId, String),
}

impl Conn {
    /// The client it introduced, once it said `hello`.
    pub(super) fn client(&self) -> Option<&ClientId> {
        match self {
            Conn::Silent { .. } => None,
            Conn::Introduced(client, _) => Some(client),
        }
    }

    /// The proof its `hello` carried, once it said it.
    pub(super) fn proof(&self) -> Option<&str> {
        match self {
            Conn::Silent { .. } => None,
            Conn::Introduced(_, proof) => Some(proof),
        }
    }

    /// Its deadline for `hello`, while it has not said it.
    fn deadline(&self) -> Option<Timestamp> {
        match self {
            Conn::Silent { deadline } => Some(*deadline),
            Conn::Introduced(..) => None,
        }
    }
}

/// The open connections.
#[derive(Debug, Default)]
pub(super) struct Conns {
    open: Map<ConnId, Conn>,
}

impl Conns {
    /// `conn` opened at `now`, silent; one already open is left as it is.
    pub(super) fn open(&mut self, now: Timestamp, conn: ConnId) {
        let deadline = now.plus_millis(HELLO_TIMEOUT_MS);
        self.open.entry(conn).or_insert(Conn::Silent { deadline });
    }

    /// `conn` said `hello` as `client`, with `proof`: it has no deadline any
    /// more.
    pub(super) fn introduce(&mut self, conn: ConnId, client: ClientId, proof: String) {
        self.open.insert(conn, Conn::Introduced(client, proof));
    }

    /// Forgets `conn`.
    pub(super) fn remove(&mut self, conn: ConnId) {
        self.open.remove(&conn);
    }

    /// `conn`, if it is open.
    pub(super) fn get(&self, conn: ConnId) -> Option<&Conn> {
        self.open.get(&conn)
    }

    /// Whether `conn` is open.
    pub(super) fn contains(&self, conn: ConnId) -> bool {
        self.open.contains_key(&conn)
    }

    /// How many are open.
    pub(super) fn len(&self) -> usize {
        self.open.len()
    }

    /// The clients of the connections that said `hello`.
    pub(super) fn clients(&self) -> impl Iterator<Item = &ClientId> {
        self.open.values().filter_map(Conn::client)
    }

    /// The connections that said `hello`.
    pub(super) fn introduced(&self) -> Vec<ConnId> {
        self.open.iter().filter(|(_, c)| c.client().is_some()).map(|(k, _)| *k).collect()
    }

    /// The connection on which `client` said `hello`.
    pub(super) fn of(&self, client: &ClientId) -> Option<ConnId> {
        self.open.iter().find(|(_, c)| c.client() == Some(client)).map(|(k, _)| *k)
    }

    /// The earliest deadline of a silent connection.
    pub(super) fn next_deadline(&self) -> Option<Timestamp> {
        self.open.values().filter_map(Conn::deadline).min()
    }

    /// The silent connections whose deadline is at or before `now`.
    pub(super) fn due(&self, now: Timestamp) -> Vec<ConnId> {
        self.open.iter().filter(|(_, c)| c.deadline().is_some_and(|at| at <= now)).map(|(k, _)| *k).collect()
    }
}
