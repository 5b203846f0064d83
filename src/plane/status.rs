//! Plane's status stream (`<status_url>-stream`, server-sent events of
//! `BackendStatusStreamEntry`) in the seed's terms. Plane writes the same
//! statuses, but spells three termination reasons its own way
//! (`keyexpired`, `startuptimeout`, and `internalerror`, which the seed
//! lacks) and its `time` as Unix milliseconds. Each is mapped to a typed
//! value; anything else is refused, never passed through.

use crate::model::status::{BackendState, BackendStatus, TerminationReason};
use crate::model::time::Timestamp;
use crate::model::value::{Fields, FromValue, Value, ValueError};

/// A termination reason as Plane spells it.
pub fn reason(text: &str) -> Option<TerminationReason> {
    Some(match text {
        "swept" => TerminationReason::Swept,
        "external" => TerminationReason::External,
        "keyexpired" => TerminationReason::KeyExpired,
        "lost" => TerminationReason::Lost,
        "startuptimeout" => TerminationReason::StartupTimeout,
        "internalerror" => TerminationReason::InternalError,
        _ => return None,
    })
}

/// Plane's termination reason, read from its spelling.
struct PlaneReason(TerminationReason);

impl FromValue for PlaneReason {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        value.as_str().and_then(reason).map(PlaneReason).ok_or_else(|| match value.as_str() {
            Some(text) => ValueError::new(format!("`{}` is not a Plane termination reason", clip(text))),
            None => ValueError::expected("a Plane termination reason", value),
        })
    }
}

impl From<PlaneReason> for TerminationReason {
    fn from(reason: PlaneReason) -> Self {
        reason.0
    }
}

/// Plane's time: whole Unix milliseconds.
struct PlaneTime(Timestamp);

impl FromValue for PlaneTime {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        let ms = value.as_f64().ok_or_else(|| ValueError::expected("Unix milliseconds", value))?;
        if ms.fract() != 0.0 || !(0.0..=crate::MAX_SAFE_INTEGER as f64).contains(&ms) {
            return Err(ValueError::new("a time must be whole Unix milliseconds"));
        }
        // Exact: a whole number within 2^53.
        Ok(PlaneTime(Timestamp::from_unix_millis(ms as u64)))
    }
}

fn clip(text: &str) -> String {
    text.chars().take(32).collect()
}

/// One entry of Plane's status stream as the seed's state.
pub fn state(entry: &Value) -> Result<BackendState, ValueError> {
    let fields = Fields::of(entry)?;
    let tag = fields.tag("status")?;
    let status = BackendStatus::parse(tag)
        .ok_or_else(|| ValueError::new(format!("`status`: `{}` is not a backend status", clip(tag))))?;
    BackendState::read::<PlaneReason>(status, fields.req::<PlaneTime>("time")?.0, &fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::status::TerminationKind;
    use crate::model::value::from_json_text;

    fn read(json: &str) -> Result<BackendState, ValueError> {
        state(&from_json_text::<Value>(json).unwrap())
    }

    const T: u64 = 1_764_000_000_000;

    #[test]
    fn every_status_reads_with_its_time() {
        for status in ["scheduled", "loading", "starting", "waiting", "ready"] {
            let state = read(&format!(r#"{{"status":"{status}","time":{T}}}"#)).unwrap();
            assert_eq!(state.status().as_str(), status);
            assert_eq!(state.time(), Timestamp::from_unix_millis(T));
        }
    }

    #[test]
    fn plane_spellings_map_to_typed_reasons() {
        let cases = [
            ("swept", TerminationReason::Swept),
            ("external", TerminationReason::External),
            ("keyexpired", TerminationReason::KeyExpired),
            ("lost", TerminationReason::Lost),
            ("startuptimeout", TerminationReason::StartupTimeout),
            ("internalerror", TerminationReason::InternalError),
        ];
        for (text, reason) in cases {
            let json = format!(
                r#"{{"status":"terminated","time":{T},"termination_reason":"{text}","termination_kind":"soft","exit_error":false}}"#
            );
            let expected = BackendState::Terminated {
                time: Timestamp::from_unix_millis(T),
                termination_reason: Some(reason),
                termination_kind: Some(TerminationKind::Soft),
                exit_error: Some(false),
            };
            assert_eq!(read(&json), Ok(expected), "{text}");
            let hard = format!(r#"{{"status":"hard-terminating","time":{T},"termination_reason":"{text}"}}"#);
            assert_eq!(read(&hard).unwrap().termination_reason(), Some(reason));
        }
        // A backend that exited by itself carries no reason.
        let plain = read(&format!(r#"{{"status":"terminated","time":{T},"exit_error":true}}"#)).unwrap();
        assert_eq!(plain.termination_reason(), None);
    }

    #[test]
    fn the_seed_spellings_and_anything_unknown_are_refused() {
        let bad = [
            format!(r#"{{"status":"terminating","time":{T},"termination_reason":"key_expired"}}"#),
            format!(r#"{{"status":"terminating","time":{T},"termination_reason":"startup_timeout"}}"#),
            format!(r#"{{"status":"terminating","time":{T},"termination_reason":"gone"}}"#),
            format!(r#"{{"status":"terminating","time":{T}}}"#),
            format!(r#"{{"status":"hard_terminating","time":{T}}}"#),
            r#"{"status":"ready","time":"2026-11-22T10:00:00.000Z"}"#.to_string(),
            r#"{"status":"ready","time":1.5}"#.to_string(),
            r#"{"status":"ready","time":-1}"#.to_string(),
            r#"{"status":"ready"}"#.to_string(),
            format!(r#"{{"status":"terminated","time":{T},"termination_kind":"gentle"}}"#),
            r#"["ready"]"#.to_string(),
        ];
        for json in bad {
            assert!(read(&json).is_err(), "{json}");
        }
    }
}
