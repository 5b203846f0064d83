//! Wall-clock instants as the seed writes them: ISO-8601 strings.
//!
//! The core never reads a clock (`Instant::now()` panics on
//! `wasm32-unknown-unknown`); the browser layer passes `Date.now()` in.

use std::fmt;
use std::str::FromStr;

use crate::model::value::{FromValue, ToValue, Value, ValueError};

/// Milliseconds since the Unix epoch, written as an ISO-8601 / RFC 3339 UTC
/// string with millisecond precision, exactly as JavaScript's
/// `Date.prototype.toISOString` writes it: `2026-11-22T10:00:00.000Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

/// The latest instant that still has a four-digit year: 9999-12-31T23:59:59.999Z.
const MAX_MILLIS: u64 = 253_402_300_799_999;

/// Why a string was refused as a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not an ISO-8601 date-time between 1970 and 9999 ({reason})")]
pub struct TimestampError {
    input: String,
    reason: &'static str,
}

impl Timestamp {
    /// The instant `millis` milliseconds after 1970-01-01T00:00:00Z (as from
    /// `Date.now()`), clamped to the year 9999.
    pub const fn from_unix_millis(millis: u64) -> Self {
        Timestamp(if millis < MAX_MILLIS { millis } else { MAX_MILLIS })
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(self) -> u64 {
        self.0
    }

    /// This instant plus `millis` milliseconds.
    pub fn plus_millis(self, millis: u64) -> Self {
        Self::from_unix_millis(self.0.saturating_add(millis))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn millis_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0 / 86_400_000;
        let in_day = self.0 % 86_400_000;
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            in_day / 3_600_000,
            in_day / 60_000 % 60,
            in_day / 1000 % 60,
            in_day % 1000
        )
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    /// Parses RFC 3339: `YYYY-MM-DDTHH:MM:SS`, an optional fraction (kept to
    /// the millisecond), then `Z` or an offset `±HH:MM`.
    fn from_str(input: &str) -> Result<Self, TimestampError> {
        let fail = |reason| TimestampError { input: input.chars().take(64).collect(), reason };
        let b = input.as_bytes();
        if b.len() < 20 || !input.is_ascii() {
            return Err(fail("too short"));
        }
        let year = digits(&b[0..4]).ok_or_else(|| fail("bad year"))?;
        let month = digits(&b[5..7]).ok_or_else(|| fail("bad month"))?;
        let day = digits(&b[8..10]).ok_or_else(|| fail("bad day"))?;
        let hour = digits(&b[11..13]).ok_or_else(|| fail("bad hour"))?;
        let minute = digits(&b[14..16]).ok_or_else(|| fail("bad minute"))?;
        let second = digits(&b[17..19]).ok_or_else(|| fail("bad second"))?;
        if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
            return Err(fail("bad separators"));
        }
        // 1969 only with an offset that lands in 1970 UTC: checked below.
        if !(1969..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(fail("year or month out of range"));
        }
        if day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59 {
            return Err(fail("day or time out of range"));
        }
        let mut rest = &b[19..];
        let mut millis = 0;
        if rest.first() == Some(&b'.') {
            let count = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if count == 0 {
                return Err(fail("empty fraction"));
            }
            for (i, &digit) in rest[1..=count].iter().take(3).enumerate() {
                millis += u64::from(digit - b'0') * [100, 10, 1][i];
            }
            rest = &rest[1 + count..];
        }
        let offset_minutes: i64 = match rest {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let h = digits(&[*h1, *h2]).ok_or_else(|| fail("bad offset"))?;
                let m = digits(&[*m1, *m2]).ok_or_else(|| fail("bad offset"))?;
                if h > 23 || m > 59 {
                    return Err(fail("offset out of range"));
                }
                let minutes = i64::from(h * 60 + m);
                if *sign == b'-' { -minutes } else { minutes }
            }
            _ => return Err(fail("missing or bad time zone")),
        };
        let local = days_from_civil(year, month, day) * 86_400_000
            + i64::from(hour) * 3_600_000
            + i64::from(minute) * 60_000
            + i64::from(second) * 1000
            + millis as i64;
        let utc = local - offset_minutes * 60_000;
        if utc < 0 || utc as u64 > MAX_MILLIS {
            return Err(fail("outside 1970..=9999 in UTC"));
        }
        Ok(Timestamp(utc as u64))
    }
}

impl ToValue for Timestamp {
    fn to_value(&self) -> Value {
        Value::String(self.to_string())
    }
}

impl FromValue for Timestamp {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        let text = value.text("an ISO-8601 time string")?;
        text.parse().map_err(|e: TimestampError| ValueError::new(e.to_string()))
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
}

fn is_leap(year: u32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (year ≥ 1).
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    // Howard Hinnant's algorithm, with eras of 400 years starting in March.
    let y = i64::from(if month <= 2 { year - 1 } else { year });
    let era = y / 400;
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn formats_like_javascript_to_iso_string() {
        assert_eq!(Timestamp::from_unix_millis(0).to_string(), "1970-01-01T00:00:00.000Z");
        // new Date(1795428000123).toISOString()
        assert_eq!(Timestamp::from_unix_millis(1_795_428_000_123).to_string(), "2026-11-23T10:00:00.123Z");
        // a leap day
        assert_eq!(Timestamp::from_unix_millis(951_782_400_000).to_string(), "2000-02-29T00:00:00.000Z");
        assert_eq!(Timestamp::from_unix_millis(u64::MAX).to_string(), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn parses_what_it_formats_across_the_range() {
        let mut millis = 0u64;
        while millis < MAX_MILLIS {
            let t = Timestamp::from_unix_millis(millis);
            assert_eq!(ts(&t.to_string()), t, "{t}");
            millis += 86_400_000 * 37 + 3_600_000 * 5 + 61_001;
        }
    }

    #[test]
    fn parses_fractions_and_offsets() {
        assert_eq!(ts("1970-01-01T00:00:01Z").unix_millis(), 1000);
        assert_eq!(ts("1970-01-01T00:00:00.5Z").unix_millis(), 500);
        assert_eq!(ts("1970-01-01T00:00:00.123456789Z").unix_millis(), 123);
        assert_eq!(ts("1970-01-01T01:00:00+01:00").unix_millis(), 0);
        assert_eq!(ts("1969-12-31T23:00:00-01:00").unix_millis(), 0);
        assert_eq!(ts("2026-11-22t10:00:00z"), ts("2026-11-22T10:00:00Z"));
    }

    #[test]
    fn refuses_malformed_strings_without_panicking() {
        for bad in [
            "",
            "2026-11-22",
            "2026-11-22 10:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:60Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00+1:00",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00+00:01",
            "２026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Zjunk",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad:?} was accepted");
        }
        assert_eq!(ts("2024-02-29T00:00:00Z").to_string(), "2024-02-29T00:00:00.000Z");
    }

    #[test]
    fn serializes_as_an_iso_string() {
        let t = Timestamp::from_unix_millis(1_795_428_000_123);
        use crate::model::value::{from_json_text, to_json};
        assert_eq!(to_json(&t).to_string(), r#""2026-11-23T10:00:00.123Z""#);
        assert_eq!(from_json_text::<Timestamp>(r#""2026-11-23T10:00:00.123Z""#).unwrap(), t);
        assert!(from_json_text::<Timestamp>("1795428000123").is_err());
    }
}
