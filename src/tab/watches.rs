//! The backends a tab watches: each one's history as the coordinator sent
//! it (the states so far on `watch`, then each new one), the app's
//! `statusStream` subscribers and how much of the history each was given,
//! and the calls that wait on a state (`status`, `ready`, `terminate`).
//!
//! A late subscriber is given the past states first, and nobody is given a
//! state twice: the history only grows, and each subscriber is given what
//! lies past what it had.

use crate::model::map::Map;
use std::fmt;

use super::calls::{CallError, CallId};
use crate::model::code::ErrorCode;
use crate::model::ids::BackendId;
use crate::model::lifecycle::final_state;
use crate::model::status::{BackendState, BackendStatus, TerminationReason};
use crate::model::time::Timestamp;

/// One `statusStream` subscription of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubscriptionId(u64);

impl SubscriptionId {
    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "subscription {}", self.0)
    }
}

/// What a wait on a backend's state waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Await {
    /// The current state, as soon as it is known (`status`).
    Current,
    /// `ready`; refused if the backend ends first (`ready`).
    Ready,
    /// `terminated` (`terminate`).
    Terminated,
}

/// What the app is to be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// A subscriber's next state.
    Update {
        /// The subscriber.
        subscription: SubscriptionId,
        /// The state.
        state: BackendState,
    },
    /// A wait is over.
    Settle {
        /// The waiting call.
        call: CallId,
        /// The state it waited for, or why it will not come.
        outcome: Result<BackendState, CallError>,
    },
}

/// What a tab knows of a watched backend.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Known {
    /// Asked for; the history has not arrived.
    Asked,
    /// The coordinator knew no such backend when asked: its states come
    /// once its leader reports them (the coordinator keeps the watch).
    Unknown,
    /// Its states so far, oldest first (never empty).
    States(Vec<BackendState>),
}

#[derive(Debug)]
struct Subscriber {
    backend_id: BackendId,
    /// How many states of the history it was given.
    delivered: usize,
}

#[derive(Debug)]
struct Waiter {
    backend_id: BackendId,
    until: Await,
}

/// The watched backends of one tab, their subscribers and waiters.
#[derive(Debug, Default)]
pub(crate) struct Watches {
    next: u64,
    histories: Map<BackendId, Known>,
    subscribers: Map<SubscriptionId, Subscriber>,
    waiters: Map<CallId, Waiter>,
}

impl Watches {
    /// Watches `backend_id`: `true` if it must be asked for (it was not
    /// watched, or the coordinator said it does not know it).
    pub(crate) fn watch(&mut self, backend_id: &BackendId) -> bool {
        if matches!(self.histories.get(backend_id), Some(Known::Asked | Known::States(_))) {
            return false;
        }
        self.histories.insert(backend_id.clone(), Known::Asked);
        true
    }

    /// A new subscriber of `backend_id`'s states, given none yet.
    pub(crate) fn subscribe(&mut self, backend_id: BackendId) -> SubscriptionId {
        self.next += 1;
        let id = SubscriptionId(self.next);
        self.subscribers.insert(id, Subscriber { backend_id, delivered: 0 });
        id
    }

    /// Stops a subscriber; `false` if it was not subscribed.
    pub(crate) fn unsubscribe(&mut self, id: SubscriptionId) -> bool {
        self.subscribers.remove(&id).is_some()
    }

    /// `call` waits for `until` of `backend_id`.
    pub(crate) fn wait(&mut self, call: CallId, backend_id: BackendId, until: Await) {
        self.waiters.insert(call, Waiter { backend_id, until });
    }

    /// The coordinator's history of `backend_id`: it replaces a shorter one
    /// (an older answer is never taken over a newer); none means the
    /// coordinator knows no such backend yet — waits are refused, and its
    /// states come when its leader reports them (a backend just spawned, a
    /// new coordinator) — unless its states are known already.
    pub(crate) fn history(&mut self, backend_id: &BackendId, states: Vec<BackendState>) {
        if states.is_empty() {
            if !matches!(self.histories.get(backend_id), Some(Known::States(_))) {
                self.histories.insert(backend_id.clone(), Known::Unknown);
            }
            return;
        }
        let known = match self.histories.get(backend_id) {
            Some(Known::States(known)) => known.len(),
            Some(Known::Asked | Known::Unknown) | None => 0,
        };
        if states.len() >= known {
            self.histories.insert(backend_id.clone(), Known::States(states));
        }
    }

    /// A new state of `backend_id`: taken only after its history, and only
    /// if it moves on from the last one (a stale or repeated state is not).
    /// The first state of a backend the coordinator did not know starts its
    /// history (the coordinator tells every state, from the first, once its
    /// leader reports it); while a history is on its way, the history will
    /// hold the state.
    pub(crate) fn status(&mut self, backend_id: &BackendId, state: BackendState) {
        match self.histories.get_mut(backend_id) {
            Some(Known::States(states)) => {
                if states.last().is_none_or(|last| last.status() < state.status()) {
                    states.push(state);
                }
            }
            Some(known @ Known::Unknown) => *known = Known::States(vec![state]),
            Some(Known::Asked) | None => {}
        }
    }

    /// The coordinator says no leader hosts `backend_id`, nor will: a
    /// backend known live ends `terminated` with reason `lost` (a
    /// termination under way keeps its own) at `time`, or just after its
    /// last state; one never known stays unknown (waits are refused).
    pub(crate) fn unhosted(&mut self, backend_id: &BackendId, time: Timestamp) {
        match self.histories.get_mut(backend_id) {
            Some(Known::States(states)) => {
                if let Some(last) = states.last().filter(|last| last.status() != BackendStatus::Terminated) {
                    let time = time.max(last.time());
                    states.push(final_state(last, time, false, Some(TerminationReason::Lost)));
                }
            }
            Some(known) => *known = Known::Unknown,
            None => {}
        }
    }

    /// Every watched backend whose history arrived, with its states.
    pub(crate) fn known(&self) -> impl Iterator<Item = (&BackendId, &[BackendState])> {
        self.histories.iter().filter_map(|(id, known)| match known {
            Known::States(states) => Some((id, states.as_slice())),
            Known::Asked | Known::Unknown => None,
        })
    }

    /// Every watched backend not known to be terminated: a new coordinator
    /// is asked for them again.
    pub(crate) fn to_renew(&self) -> Vec<BackendId> {
        self.histories.keys().filter(|id| !self.has_ended(id)).cloned().collect()
    }

    /// Whether `backend_id` is known to be `terminated`.
    pub(crate) fn has_ended(&self, backend_id: &BackendId) -> bool {
        matches!(self.histories.get(backend_id), Some(Known::States(s))
            if s.last().is_some_and(|last| last.status() == BackendStatus::Terminated))
    }

    /// What every subscriber and waiter of `backend_id` is to be given now,
    /// subscribers first, each in the order it came. Nothing while its
    /// history is awaited; if the coordinator does not know it, every
    /// waiter is refused with [`ErrorCode::UnknownBackend`].
    pub(crate) fn deliver(&mut self, backend_id: &BackendId) -> Vec<Delivery> {
        let states: &[BackendState] = match self.histories.get(backend_id) {
            Some(Known::States(states)) => states,
            Some(Known::Asked) => return Vec::new(),
            Some(Known::Unknown) | None => &[],
        };
        let mut out = Vec::new();
        for (id, subscriber) in self.subscribers.iter_mut().filter(|(_, s)| s.backend_id == *backend_id) {
            let new = states.get(subscriber.delivered..).unwrap_or_default();
            out.extend(new.iter().map(|state| Delivery::Update { subscription: *id, state: state.clone() }));
            subscriber.delivered = subscriber.delivered.max(states.len());
        }
        let settled: Vec<(CallId, Result<BackendState, CallError>)> = self
            .waiters
            .iter()
            .filter(|(_, w)| w.backend_id == *backend_id)
            .filter_map(|(call, waiter)| Some((*call, settle(backend_id, waiter.until, states)?)))
            .collect();
        for (call, outcome) in settled {
            self.waiters.remove(&call);
            out.push(Delivery::Settle { call, outcome });
        }
        out
    }

    /// Forgets everything (the tab was destroyed).
    pub(crate) fn clear(&mut self) {
        *self = Watches { next: self.next, ..Watches::default() };
    }
}

/// How a wait for `until` of `backend_id`, whose history is `states`,
/// settles now, if it does.
fn settle(backend_id: &BackendId, until: Await, states: &[BackendState]) -> Option<Result<BackendState, CallError>> {
    let Some(last) = states.last() else {
        let detail = format!("no backend `{backend_id}` is known");
        return Some(Err(CallError::new(ErrorCode::UnknownBackend, detail)));
    };
    let ended = Some(last).filter(|s| s.status() == BackendStatus::Terminated);
    match until {
        Await::Current => Some(Ok(last.clone())),
        Await::Ready => match (states.iter().find(|s| s.status() == BackendStatus::Ready), ended) {
            (Some(ready), _) => Some(Ok(ready.clone())),
            (None, Some(end)) => {
                let reason = end.termination_reason().map_or("none", |r| r.as_str());
                let detail = format!("the backend `{backend_id}` ended before it was ready (reason: {reason})");
                Some(Err(CallError::new(ErrorCode::BackendTerminated, detail)))
            }
            (None, None) => None,
        },
        Await::Terminated => ended.cloned().map(Ok),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::status::{TerminationKind, TerminationReason};
    use crate::model::time::Timestamp;

    const T0: Timestamp = Timestamp::from_unix_millis(1_000_000);

    fn b1() -> BackendId {
        BackendId::new("b1").unwrap()
    }

    fn at(ms: u64) -> Timestamp {
        T0.plus_millis(ms)
    }

    fn terminated(ms: u64) -> BackendState {
        BackendState::Terminated {
            time: at(ms),
            termination_reason: Some(TerminationReason::External),
            termination_kind: Some(TerminationKind::Soft),
            exit_error: Some(false),
        }
    }

    fn startup() -> Vec<BackendState> {
        vec![BackendState::Scheduled { time: at(0) }, BackendState::Loading { time: at(1) }]
    }

    fn calls(n: u64) -> Vec<CallId> {
        let mut calls = super::super::calls::Calls::default();
        (0..n).map(|_| calls.wait()).collect()
    }

    /// The states each delivery gives, as (who, status).
    fn given(out: &[Delivery]) -> Vec<(String, &'static str)> {
        out.iter()
            .map(|d| match d {
                Delivery::Update { subscription, state } => (subscription.to_string(), state.status().as_str()),
                Delivery::Settle { call, outcome: Ok(state) } => (call.to_string(), state.status().as_str()),
                Delivery::Settle { call, outcome: Err(e) } => (call.to_string(), e.code.as_str()),
            })
            .collect()
    }

    #[test]
    fn a_backend_the_coordinator_did_not_know_yet_is_followed_once_its_states_come() {
        let mut watches = Watches::default();
        assert!(watches.watch(&b1()));
        let sub = watches.subscribe(b1());
        let call = calls(1)[0];
        watches.wait(call, b1(), Await::Current);
        watches.history(&b1(), vec![]);
        let refused = given(&watches.deliver(&b1()));
        assert_eq!(refused, [(call.to_string(), "unknown-backend")], "a wait is refused at once");
        // Its leader reports it: the coordinator tells every state, and the subscriber gets each once.
        watches.status(&b1(), BackendState::Scheduled { time: at(0) });
        watches.status(&b1(), BackendState::Loading { time: at(1) });
        let got = given(&watches.deliver(&b1()));
        assert_eq!(got, [(sub.to_string(), "scheduled"), (sub.to_string(), "loading")]);
        assert!(given(&watches.deliver(&b1())).is_empty(), "each state once");
        assert_eq!(watches.known().count(), 1);
    }

    #[test]
    fn the_history_ignores_stale_repeated_and_backward_states() {
        let mut watches = Watches::default();
        assert!(watches.watch(&b1()));
        assert!(!watches.watch(&b1()), "asked once");
        let sub = watches.subscribe(b1());
        watches.status(&b1(), BackendState::Scheduled { time: at(0) });
        assert_eq!(watches.deliver(&b1()), [], "nothing before the history arrived");
        watches.history(&b1(), startup());
        watches.status(&b1(), BackendState::Loading { time: at(1) });
        watches.status(&b1(), BackendState::Scheduled { time: at(2) });
        watches.history(&b1(), startup()[..1].to_vec());
        watches.status(&b1(), BackendState::Ready { time: at(3) });
        watches.status(&b1(), BackendState::Starting { time: at(4) });
        let s = sub.to_string();
        assert_eq!(
            given(&watches.deliver(&b1())),
            [(s.clone(), "scheduled"), (s.clone(), "loading"), (s.clone(), "ready")],
            "a repeated, a backward state and a shorter history change nothing"
        );
        // A longer history (sent again) replaces it; only what is new is given.
        let mut longer = startup();
        longer.extend([
            BackendState::Ready { time: at(3) },
            BackendState::Terminating { time: at(5), termination_reason: TerminationReason::External },
        ]);
        watches.history(&b1(), longer);
        assert_eq!(given(&watches.deliver(&b1())), [(s, "terminating")]);
        assert!(!watches.has_ended(&b1()));
        watches.status(&b1(), terminated(6));
        assert!(watches.has_ended(&b1()));
    }

    #[test]
    fn a_late_subscriber_is_given_the_past_first_and_nobody_a_state_twice() {
        let mut watches = Watches::default();
        watches.watch(&b1());
        let early = watches.subscribe(b1());
        watches.history(&b1(), startup());
        assert_eq!(watches.deliver(&b1()).len(), 2);
        assert_eq!(watches.deliver(&b1()), [], "nothing twice");
        let late = watches.subscribe(b1());
        watches.status(&b1(), BackendState::Ready { time: at(3) });
        let (e, l) = (early.to_string(), late.to_string());
        assert_eq!(
            given(&watches.deliver(&b1())),
            [(e, "ready"), (l.clone(), "scheduled"), (l.clone(), "loading"), (l, "ready")]
        );
        assert!(watches.unsubscribe(late));
        watches.status(&b1(), terminated(4));
        assert_eq!(watches.deliver(&b1()).len(), 1, "only the early one is given more");
        // A history that says the backend is unknown never makes a subscriber read past it.
        watches.history(&b1(), Vec::new());
        assert_eq!(watches.deliver(&b1()), []);
    }

    #[test]
    fn each_wait_settles_by_its_rule() {
        let mut watches = Watches::default();
        let [current, ready, end, early] = calls(4)[..] else { unreachable!() };
        watches.watch(&b1());
        watches.wait(current, b1(), Await::Current);
        watches.wait(ready, b1(), Await::Ready);
        watches.wait(end, b1(), Await::Terminated);
        assert_eq!(watches.deliver(&b1()), [], "nothing is known yet");
        watches.history(&b1(), startup());
        assert_eq!(given(&watches.deliver(&b1())), [(current.to_string(), "loading")]);
        watches.status(&b1(), BackendState::Ready { time: at(3) });
        watches.wait(early, b1(), Await::Ready);
        watches.status(&b1(), terminated(4));
        // `ready` is given its `ready` state even when the backend has ended since.
        assert_eq!(
            watches.deliver(&b1()),
            [
                Delivery::Settle { call: ready, outcome: Ok(BackendState::Ready { time: at(3) }) },
                Delivery::Settle { call: end, outcome: Ok(terminated(4)) },
                Delivery::Settle { call: early, outcome: Ok(BackendState::Ready { time: at(3) }) },
            ]
        );
        assert_eq!(watches.deliver(&b1()), [], "each settles once");
    }

    #[test]
    fn a_backend_that_ends_before_it_is_ready_refuses_ready_and_an_unknown_one_refuses_every_wait() {
        let mut watches = Watches::default();
        let [ready, current, unknown_ready] = calls(3)[..] else { unreachable!() };
        watches.watch(&b1());
        watches.wait(ready, b1(), Await::Ready);
        let mut ended = startup();
        ended.push(terminated(2));
        watches.history(&b1(), ended);
        let out = watches.deliver(&b1());
        let [Delivery::Settle { call, outcome: Err(error) }] = &out[..] else { panic!("{out:?}") };
        assert_eq!((*call, error.code), (ready, ErrorCode::BackendTerminated));
        assert!(error.detail.contains("`b1` ended before it was ready") && error.detail.contains("(reason: "));

        let b2 = BackendId::new("b2").unwrap();
        assert!(watches.watch(&b2));
        watches.wait(current, b2.clone(), Await::Current);
        watches.wait(unknown_ready, b2.clone(), Await::Ready);
        watches.history(&b2, Vec::new());
        let refused: Vec<(CallId, ErrorCode)> = watches
            .deliver(&b2)
            .into_iter()
            .map(|d| match d {
                Delivery::Settle { call, outcome: Err(e) } => (call, e.code),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(refused, [(current, ErrorCode::UnknownBackend), (unknown_ready, ErrorCode::UnknownBackend)]);
        assert!(watches.watch(&b2), "an unknown backend is asked for again");
    }
}
