//! What tabs ask of the leader through the coordinator, until it answers:
//! each `connect` (kept for the next leader if this one dies without
//! answering), and each session's `request-port` (kept while no leader is
//! connected; a keyed one also while the leader it was passed to has not
//! answered, so that it is refused if that leader goes). Answers go to the
//! one tab that asked; a tab keeps at most
//! [`MAX_PENDING_PER_TAB`](super::MAX_PENDING_PER_TAB) questions waiting.

use super::admission;
use super::board::Board;
use super::conns::Conns;
use super::outbox::Outbox;
use super::terms::Terms;
use crate::model::code::ErrorCode;
use crate::model::ids::{ClientId, ConnId, Epoch, SessionId};
use crate::protocol::{ConnectAnswer, ConnectCall, CoordinatorToTab, PortGrant, PortRefusal, PortRequest};

/// A `connect` the leader has not answered yet.
#[derive(Debug)]
struct PendingConnect {
    /// The asking tab's connection.
    from: ConnId,
    call: Box<ConnectCall>,
    /// The epoch of the leader it was sent to; `None` while no leader was
    /// connected.
    sent_to: Option<Epoch>,
}

/// The questions waiting for the leader.
#[derive(Debug, Default)]
pub(super) struct Asks {
    /// `connect`s not answered yet, oldest first.
    connects: Vec<PendingConnect>,
    /// `request-port`s that arrived while no leader was connected.
    waiting: Vec<(ConnId, PortRequest)>,
    /// Keyed `request-port`s passed to a leader and not answered yet: the
    /// asking connection, the request, and the leader's connection.
    ports: Vec<(ConnId, PortRequest, ConnId)>,
}

impl Asks {
    /// How many `connect`s wait for a leader's answer.
    pub(super) fn connects(&self) -> usize {
        self.connects.len()
    }

    /// How many questions of `conn` wait: its connects, and its sessions
    /// asked while no leader was connected or passed to one not answered.
    fn pending(&self, conn: ConnId) -> usize {
        let connects = self.connects.iter().filter(|p| p.from == conn).count();
        let ports = self.ports.iter().filter(|(from, ..)| *from == conn).count();
        connects + ports + self.waiting.iter().filter(|(from, _)| *from == conn).count()
    }

    /// A tab's `connect`: to the leader, if one is connected; kept until
    /// answered. The same connect again replaces the one pending.
    pub(super) fn connect(&mut self, from: ConnId, call: Box<ConnectCall>, terms: &Terms, out: &mut Outbox) {
        self.connects.retain(|p| p.call.client_id != call.client_id || p.call.request_id != call.request_id);
        if let Some(detail) = admission::too_many(self.pending(from), "connect") {
            return out.reject(from, true, ErrorCode::TooManyPending, detail);
        }
        let sent_to = terms.leader().map(|(epoch, leader)| {
            out.send(leader, CoordinatorToTab::Connect(call.clone()));
            epoch
        });
        self.connects.push(PendingConnect { from, call, sent_to });
    }

    /// The leader's answer to a connect, to the tab that asked; one to no
    /// pending connect (answered already, or its tab left) is dropped.
    pub(super) fn connected(&mut self, answer: Box<ConnectAnswer>, conns: &Conns, out: &mut Outbox) {
        let asked = |p: &PendingConnect| p.call.client_id == answer.client_id && p.call.request_id == answer.request_id;
        let Some(pending) = self.connects.iter().position(asked) else {
            return out.dropped();
        };
        self.connects.remove(pending);
        if let Some(to) = conns.of(&answer.client_id) {
            out.send(to, CoordinatorToTab::Connected(answer));
        }
    }

    /// A tab's `request-port`: refused at once for a backend the board
    /// knows ended, or knows no leader hosts; else to the leader, or kept
    /// until one claims. A backend not reported yet that may still be (this
    /// coordinator is new, and its leader has not told it yet) is the
    /// leader's to answer.
    pub(super) fn request_port(
        &mut self,
        from: ConnId,
        request: PortRequest,
        leader: Option<ConnId>,
        board: &Board,
        out: &mut Outbox,
    ) {
        if let Some(detail) = admission::too_many(self.pending(from), "request-port") {
            return out.reject(from, true, ErrorCode::TooManyPending, detail);
        }
        if let Some(backend_id) = &request.backend_id {
            let refused = match board.get(backend_id) {
                None if board.may_report(backend_id) => None,
                None => Some((ErrorCode::UnknownBackend, format!("no backend `{backend_id}` is known"))),
                Some(record) if record.is_terminated() => {
                    Some((ErrorCode::BackendTerminated, format!("backend `{backend_id}` is terminated")))
                }
                Some(_) => None,
            };
            if let Some((code, detail)) = refused {
                let PortRequest { client_id, session_id, .. } = request;
                let refusal = PortRefusal { client_id, session_id, code, detail };
                return out.send(from, CoordinatorToTab::RefusePort(refusal));
            }
        }
        match leader {
            Some(leader) => {
                if request.backend_id.is_some() {
                    self.ports.push((from, request.clone(), leader));
                }
                out.send(leader, CoordinatorToTab::RequestPort(request));
            }
            None => self.waiting.push((from, request)),
        }
    }

    /// The leader's `provide-port`, to the tab that asked, if it is of the
    /// leader's own term.
    pub(super) fn provide_port(
        &mut self,
        from: ConnId,
        grant: PortGrant,
        terms: &mut Terms,
        conns: &Conns,
        out: &mut Outbox,
    ) {
        let Some(current) = terms.leadership().map(|l| l.epoch) else {
            return out.reject(from, true, ErrorCode::NotLeader, "`provide-port` before any leader".into());
        };
        // A keyed backend's port made in a term the leader held before it
        // claimed again on this connection is still its own (as its states
        // are); a default session's is of a worker it replaced.
        let leads = terms.leader().is_some_and(|(_, leader)| leader == from);
        if !leads || !terms.is_own(grant.epoch, current) || (grant.epoch != current && grant.backend_id.is_none()) {
            let detail = format!("port of epoch {} while epoch {current} leads", grant.epoch);
            return out.reject(from, true, ErrorCode::StaleEpoch, detail);
        }
        self.answered(&grant.client_id, &grant.session_id);
        match conns.of(&grant.client_id) {
            Some(to) => out.send(to, CoordinatorToTab::ProvidePort(grant)),
            None => {
                out.reject(from, true, ErrorCode::UnknownClient, format!("no connected client `{}`", grant.client_id))
            }
        }
    }

    /// The leader's `refuse-port`, to the tab that asked.
    pub(super) fn refuse_port(&mut self, from: ConnId, refusal: PortRefusal, conns: &Conns, out: &mut Outbox) {
        self.answered(&refusal.client_id, &refusal.session_id);
        // Like a grant: a client that is gone is worth telling the leader.
        match conns.of(&refusal.client_id) {
            Some(to) => out.send(to, CoordinatorToTab::RefusePort(refusal)),
            None => {
                let detail = format!("no connected client `{}`", refusal.client_id);
                out.reject(from, true, ErrorCode::UnknownClient, detail);
            }
        }
    }

    /// The keyed session of `client_id` and `session_id` was answered.
    fn answered(&mut self, client_id: &ClientId, session_id: &SessionId) {
        self.ports.retain(|(_, r, _)| r.client_id != *client_id || r.session_id != *session_id);
    }

    /// Refuses the keyed sessions asked of a leader for which `gone` holds:
    /// the backends it hosted ended with it, and nobody else will answer.
    pub(super) fn refuse_ports(&mut self, gone: impl Fn(ConnId) -> bool, out: &mut Outbox) {
        let (refused, kept) = std::mem::take(&mut self.ports).into_iter().partition(|(_, _, leader)| gone(*leader));
        self.ports = kept;
        for (from, PortRequest { client_id, session_id, backend_id }, _) in refused {
            let backend = backend_id.map(|b| b.to_string()).unwrap_or_default();
            let detail = format!("the leader that hosted backend `{backend}` is gone");
            let refusal = PortRefusal { client_id, session_id, code: ErrorCode::BackendTerminated, detail };
            out.send(from, CoordinatorToTab::RefusePort(refusal));
        }
    }

    /// The leader on `conn` claimed `epoch`: a session asked of an older
    /// leader is not opened by it, a connect no leader of this epoch was
    /// sent is sent to it, and the sessions kept while no leader was
    /// connected are asked of it.
    pub(super) fn new_leader(&mut self, epoch: Epoch, conn: ConnId, board: &Board, out: &mut Outbox) {
        self.refuse_ports(|leader| leader != conn, out);
        for pending in self.connects.iter_mut().filter(|p| p.sent_to != Some(epoch)) {
            pending.sent_to = Some(epoch);
            out.send(conn, CoordinatorToTab::Connect(pending.call.clone()));
        }
        for (from, request) in std::mem::take(&mut self.waiting) {
            self.request_port(from, request, Some(conn), board, out);
        }
    }

    /// `conn` closed: its questions go with it.
    pub(super) fn left(&mut self, conn: ConnId) {
        self.waiting.retain(|(c, _)| *c != conn);
        self.connects.retain(|p| p.from != conn);
        self.ports.retain(|(from, _, _)| *from != conn);
    }
}
