//! Sessions' ports on their way: a `request-port` passed to the leader (or
//! refused at once for a backend the board knows no live one of), and the
//! leader's `provide-port` or `refuse-port` passed to the one client that
//! asked, if it is of the leader's own term.

use super::Coordinator;
use crate::model::code::ErrorCode;
use crate::model::ids::{ClientId, ConnId, Epoch, SessionId};
use crate::protocol::{CoordinatorToTab, PortGrant, PortRefusal, PortRequest};

impl Coordinator {
    pub(super) fn request_port(&mut self, from: ConnId, request: PortRequest) {
        if let Some(detail) = super::admission::too_many(self.pending(from), "request-port") {
            return self.reject(from, ErrorCode::TooManyPending, detail);
        }
        if let Some(backend_id) = &request.backend_id {
            let refused = match self.board.get(backend_id) {
                None => Some((ErrorCode::UnknownBackend, format!("no backend `{backend_id}` is known"))),
                Some(record) if record.is_terminated() => {
                    Some((ErrorCode::BackendTerminated, format!("backend `{backend_id}` is terminated")))
                }
                Some(_) => None,
            };
            if let Some((code, detail)) = refused {
                let PortRequest { client_id, session_id, .. } = request;
                let refusal = PortRefusal { client_id, session_id, code, detail };
                return self.send(from, CoordinatorToTab::RefusePort(refusal));
            }
        }
        match self.leadership.as_ref().and_then(|(_, conn)| *conn) {
            Some(leader) => {
                if request.backend_id.is_some() {
                    self.ports.push((from, request.clone(), leader));
                }
                self.send(leader, CoordinatorToTab::RequestPort(request));
            }
            None => self.waiting.push((from, request)),
        }
    }

    /// Refuses the keyed sessions asked of a leader for which `gone` holds:
    /// the backends it hosted ended with it, and nobody else will answer.
    pub(super) fn refuse_ports(&mut self, gone: impl Fn(ConnId) -> bool) {
        let (refused, kept) = std::mem::take(&mut self.ports).into_iter().partition(|(_, _, leader)| gone(*leader));
        self.ports = kept;
        for (from, PortRequest { client_id, session_id, backend_id }, _) in refused {
            let backend = backend_id.map(|b| b.to_string()).unwrap_or_default();
            let detail = format!("the leader that hosted backend `{backend}` is gone");
            let refusal = PortRefusal { client_id, session_id, code: ErrorCode::BackendTerminated, detail };
            self.send(from, CoordinatorToTab::RefusePort(refusal));
        }
    }

    /// The keyed session of `client_id` and `session_id` was answered.
    fn port_answered(&mut self, client_id: &ClientId, session_id: &SessionId) {
        self.ports.retain(|(_, r, _)| r.client_id != *client_id || r.session_id != *session_id);
    }

    pub(super) fn provide_port(&mut self, from: ConnId, grant: PortGrant) {
        let Some((current, leader_conn)) = &self.leadership else {
            return self.reject(from, ErrorCode::NotLeader, "`provide-port` before any leader".into());
        };
        let (current, leader_conn) = (current.epoch, *leader_conn);
        // A keyed backend's port made in a term the leader held before it
        // claimed again on this connection is still its own (as its states
        // are); a default session's is of a worker it replaced.
        let leads = leader_conn == Some(from);
        if !leads || !self.is_own_term(grant.epoch, current) || (grant.epoch != current && grant.backend_id.is_none()) {
            let detail = format!("port of epoch {} while epoch {current} leads", grant.epoch);
            return self.reject(from, ErrorCode::StaleEpoch, detail);
        }
        self.port_answered(&grant.client_id, &grant.session_id);
        match self.conn_of(&grant.client_id) {
            Some(to) => self.send(to, CoordinatorToTab::ProvidePort(grant)),
            None => self.reject(from, ErrorCode::UnknownClient, format!("no connected client `{}`", grant.client_id)),
        }
    }

    /// Whether a frame of the current leader stamped `stamped` is of one of
    /// its terms (`current`, or one it held before it claimed again on its
    /// connection and has not spoken in `current` since). A frame stamped
    /// `current` ends the earlier terms: none of theirs follows it.
    pub(super) fn is_own_term(&mut self, stamped: Epoch, current: Epoch) -> bool {
        if stamped == current {
            self.earlier_term = None;
            return true;
        }
        self.earlier_term.is_some_and(|first| first <= stamped && stamped < current)
    }

    pub(super) fn refuse_port(&mut self, from: ConnId, refusal: PortRefusal) {
        if self.leading_epoch(from, "refuse-port").is_none() {
            return;
        }
        self.port_answered(&refusal.client_id, &refusal.session_id);
        // Like a grant: a client that is gone is worth telling the leader.
        match self.conn_of(&refusal.client_id) {
            Some(to) => self.send(to, CoordinatorToTab::RefusePort(refusal)),
            None => self.reject(from, ErrorCode::UnknownClient, format!("no connected client `{}`", refusal.client_id)),
        }
    }
}
