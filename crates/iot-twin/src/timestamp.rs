//! UTC timestamps with 100-nanosecond resolution, printed the way IoT Hub prints them.
//!
//! Pure: nothing here reads a clock. Callers pass time in, typically with
//! [`Timestamp::from_system_time`] on a value they read themselves.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Ticks (100 ns) in one second.
const TICKS_PER_SECOND: i64 = 10_000_000;
/// Seconds in one day.
const SECONDS_PER_DAY: i64 = 86_400;
/// Days from 0001-01-01 to 1970-01-01 in the proleptic Gregorian calendar.
const DAYS_TO_UNIX_EPOCH: i64 = 719_162;
/// Days from 0001-01-01 to 10000-01-01: the first day that cannot be printed.
const DAYS_TO_YEAR_10000: i64 = 3_652_059;
/// Ticks from 0001-01-01 to 1970-01-01.
const UNIX_EPOCH_TICKS: i64 = DAYS_TO_UNIX_EPOCH * SECONDS_PER_DAY * TICKS_PER_SECOND;
/// One past the last representable tick (10000-01-01T00:00:00Z).
const END_TICKS: i64 = DAYS_TO_YEAR_10000 * SECONDS_PER_DAY * TICKS_PER_SECOND;

/// A point in time, UTC, from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.9999999Z, with a
/// resolution of 100 nanoseconds.
///
/// It displays as IoT Hub prints times (`2021-09-06T08:49:54.8803577Z`: seven fraction digits and
/// `Z`), except [`Timestamp::MIN`], which prints as `0001-01-01T00:00:00Z` like the hub's
/// "never happened" value. Parsing accepts RFC 3339 with any number of fraction digits (digits
/// past the seventh are truncated), `Z`, a numeric offset, or no zone at all (taken as UTC).
///
/// ```
/// use iot_twin::Timestamp;
///
/// let t: Timestamp = "2021-09-06T08:49:54.8803577Z".parse().unwrap();
/// assert_eq!(t.to_string(), "2021-09-06T08:49:54.8803577Z");
/// assert_eq!(Timestamp::from_unix_seconds(0).unwrap().to_string(), "1970-01-01T00:00:00.0000000Z");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// 100 ns ticks since 0001-01-01T00:00:00Z; always in `0..END_TICKS`.
    ticks: i64,
}

/// Why a value could not be turned into a [`Timestamp`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The instant lies before year 1 or after year 9999.
    #[error("time is outside the range 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.9999999Z")]
    OutOfRange,
    /// The text is not an RFC 3339 date and time.
    #[error("invalid timestamp {text:?}: {reason}")]
    Invalid {
        /// The text that was parsed.
        text: String,
        /// What was wrong with it.
        reason: &'static str,
    },
}

impl Timestamp {
    /// 0001-01-01T00:00:00Z, the value IoT Hub uses for "never" (e.g. `statusUpdateTime`).
    pub const MIN: Self = Self { ticks: 0 };
    /// 9999-12-31T23:59:59.9999999Z.
    pub const MAX: Self = Self {
        ticks: END_TICKS - 1,
    };
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Self = Self {
        ticks: UNIX_EPOCH_TICKS,
    };

    /// The timestamp `nanos` nanoseconds after the Unix epoch (negative: before it), truncated
    /// to 100 ns.
    pub fn from_unix_nanos(nanos: i128) -> Result<Self, TimestampError> {
        let ticks = nanos.div_euclid(100) + i128::from(UNIX_EPOCH_TICKS);
        Self::from_ticks_checked(ticks)
    }

    /// The timestamp `secs` whole seconds after the Unix epoch (negative: before it).
    pub fn from_unix_seconds(secs: i64) -> Result<Self, TimestampError> {
        Self::from_unix_nanos(i128::from(secs) * 1_000_000_000)
    }

    /// Converts a [`SystemTime`] the caller read (this crate never reads a clock).
    pub fn from_system_time(time: SystemTime) -> Result<Self, TimestampError> {
        let nanos = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => {
                i128::try_from(after.as_nanos()).map_err(|_| TimestampError::OutOfRange)?
            }
            Err(before) => -i128::try_from(before.duration().as_nanos())
                .map_err(|_| TimestampError::OutOfRange)?,
        };
        Self::from_unix_nanos(nanos)
    }

    /// The same instant as a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        let nanos = self.unix_nanos();
        let magnitude = Duration::from_nanos(
            u64::try_from(nanos.unsigned_abs()).expect("range is within ±400 years of 1970"),
        );
        if nanos >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        }
    }

    /// Nanoseconds since the Unix epoch (negative before it).
    pub fn unix_nanos(self) -> i128 {
        i128::from(self.ticks - UNIX_EPOCH_TICKS) * 100
    }

    /// Whole seconds since the Unix epoch, rounded towards negative infinity.
    pub fn unix_seconds(self) -> i64 {
        (self.ticks - UNIX_EPOCH_TICKS).div_euclid(TICKS_PER_SECOND)
    }

    /// `self + duration`, or `None` past [`Timestamp::MAX`]. Sub-100 ns parts are truncated.
    pub fn checked_add(self, duration: Duration) -> Option<Self> {
        let ticks = i128::from(self.ticks) + i128::try_from(duration.as_nanos() / 100).ok()?;
        Self::from_ticks_checked(ticks).ok()
    }

    /// `self - duration`, or `None` before [`Timestamp::MIN`]. Sub-100 ns parts are truncated.
    pub fn checked_sub(self, duration: Duration) -> Option<Self> {
        let ticks = i128::from(self.ticks) - i128::try_from(duration.as_nanos() / 100).ok()?;
        Self::from_ticks_checked(ticks).ok()
    }

    /// How long after `earlier` this is, or `None` if `earlier` is later.
    pub fn duration_since(self, earlier: Self) -> Option<Duration> {
        let ticks = u64::try_from(self.ticks.checked_sub(earlier.ticks)?).ok()?;
        Some(Duration::from_nanos(ticks.checked_mul(100)?))
    }

    fn from_ticks_checked(ticks: i128) -> Result<Self, TimestampError> {
        if (0..i128::from(END_TICKS)).contains(&ticks) {
            let ticks = i64::try_from(ticks).map_err(|_| TimestampError::OutOfRange)?;
            Ok(Self { ticks })
        } else {
            Err(TimestampError::OutOfRange)
        }
    }

    /// Splits into calendar fields: (year, month, day, hour, minute, second, ticks of second).
    fn fields(self) -> (i64, u32, u32, u32, u32, u32, i64) {
        let seconds = self.ticks / TICKS_PER_SECOND;
        let fraction = self.ticks % TICKS_PER_SECOND;
        let days = seconds / SECONDS_PER_DAY;
        let second_of_day = seconds % SECONDS_PER_DAY;
        let (year, month, day) = civil_from_days(days - DAYS_TO_UNIX_EPOCH);
        let hour = (second_of_day / 3600) as u32;
        let minute = (second_of_day / 60 % 60) as u32;
        let second = (second_of_day % 60) as u32;
        (year, month, day, hour, minute, second, fraction)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the classic era-based computation).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let month_index = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_index + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - DAYS_TO_UNIX_EPOCH_FROM_ERA_ZERO
}

/// Days from 0000-03-01 (the start of era 0) to 1970-01-01.
const DAYS_TO_UNIX_EPOCH_FROM_ERA_ZERO: i64 = 719_468;

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + DAYS_TO_UNIX_EPOCH_FROM_ERA_ZERO;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The longest printed form: `YYYY-MM-DDTHH:MM:SS.fffffffZ`.
const PRINTED_LEN: usize = 28;

/// A timestamp's printed form, built digit by digit: twins print one per member in
/// `$metadata`, so this sits on the hub's write path, where `write!` cost a tenth of it.
struct Printed {
    bytes: [u8; PRINTED_LEN],
    len: usize,
}

impl Printed {
    fn of(timestamp: Timestamp) -> Self {
        let (year, month, day, hour, minute, second, fraction) = timestamp.fields();
        let mut bytes = *b"0000-00-00T00:00:00.0000000Z";
        put_digits(&mut bytes[0..4], year.unsigned_abs());
        put_digits(&mut bytes[5..7], u64::from(month));
        put_digits(&mut bytes[8..10], u64::from(day));
        put_digits(&mut bytes[11..13], u64::from(hour));
        put_digits(&mut bytes[14..16], u64::from(minute));
        put_digits(&mut bytes[17..19], u64::from(second));
        if timestamp == Timestamp::MIN {
            bytes[19] = b'Z';
            return Self { bytes, len: 20 };
        }
        put_digits(&mut bytes[20..27], fraction.unsigned_abs());
        Self {
            bytes,
            len: PRINTED_LEN,
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation are ever written.
        std::str::from_utf8(self.bytes.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

/// Writes `value` as decimal digits filling `out`, zero-padded (the highest digits are lost
/// if it does not fit, which the calendar's ranges rule out).
fn put_digits(out: &mut [u8], mut value: u64) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Printed::of(*self).as_str())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

/// A cursor over the bytes of a timestamp being parsed.
struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn invalid(&self, reason: &'static str) -> TimestampError {
        TimestampError::Invalid {
            text: self.text.to_owned(),
            reason,
        }
    }

    fn digits(&mut self, count: usize, what: &'static str) -> Result<u32, TimestampError> {
        let end = self.at + count;
        let slice = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| self.invalid(what))?;
        if !slice.iter().all(u8::is_ascii_digit) {
            return Err(self.invalid(what));
        }
        self.at = end;
        Ok(slice
            .iter()
            .fold(0, |acc, b| acc * 10 + u32::from(b - b'0')))
    }

    fn expect(&mut self, accepted: &[u8], what: &'static str) -> Result<u8, TimestampError> {
        match self.bytes.get(self.at) {
            Some(b) if accepted.contains(b) => {
                self.at += 1;
                Ok(*b)
            }
            _ => Err(self.invalid(what)),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Parses `.fffffff...` if present, returning ticks (digits past the seventh dropped).
    fn fraction(&mut self) -> Result<i64, TimestampError> {
        if self.peek() != Some(b'.') {
            return Ok(0);
        }
        self.at += 1;
        let start = self.at;
        let mut ticks = 0i64;
        while let Some(b) = self.peek().filter(u8::is_ascii_digit) {
            if self.at - start < 7 {
                ticks = ticks * 10 + i64::from(b - b'0');
            }
            self.at += 1;
        }
        let count = self.at - start;
        if count == 0 {
            return Err(self.invalid("expected digits after '.'"));
        }
        for _ in count..7 {
            ticks *= 10;
        }
        Ok(ticks)
    }

    /// Parses the zone: `Z`, `+HH:MM`, `-HH:MM`, or nothing. Returns the offset in seconds.
    fn offset(&mut self) -> Result<i64, TimestampError> {
        let sign = match self.peek() {
            None => return Ok(0),
            Some(b'Z' | b'z') => {
                self.at += 1;
                return Ok(0);
            }
            Some(b'+') => 1,
            Some(b'-') => -1,
            Some(_) => return Err(self.invalid("expected 'Z' or an offset after the time")),
        };
        self.at += 1;
        let hours = self.digits(2, "expected two digits of offset hours")?;
        self.expect(b":", "expected ':' in the offset")?;
        let minutes = self.digits(2, "expected two digits of offset minutes")?;
        if hours > 23 || minutes > 59 {
            return Err(self.invalid("offset out of range"));
        }
        Ok(sign * i64::from(hours * 3600 + minutes * 60))
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut c = Cursor {
            text,
            bytes: text.as_bytes(),
            at: 0,
        };
        let year = c.digits(4, "expected a four-digit year")?;
        c.expect(b"-", "expected '-' after the year")?;
        let month = c.digits(2, "expected a two-digit month")?;
        c.expect(b"-", "expected '-' after the month")?;
        let day = c.digits(2, "expected a two-digit day")?;
        c.expect(b"Tt ", "expected 'T' between date and time")?;
        let hour = c.digits(2, "expected two-digit hours")?;
        c.expect(b":", "expected ':' after the hours")?;
        let minute = c.digits(2, "expected two-digit minutes")?;
        c.expect(b":", "expected ':' after the minutes")?;
        let second = c.digits(2, "expected two-digit seconds")?;
        let fraction = c.fraction()?;
        let offset = c.offset()?;
        if c.at != c.bytes.len() {
            return Err(c.invalid("unexpected text after the timestamp"));
        }
        let year = i64::from(year);
        if year == 0 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(c.invalid("no such date"));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(c.invalid("no such time of day"));
        }
        let days = days_from_civil(year, month, day) + DAYS_TO_UNIX_EPOCH;
        let seconds =
            days * SECONDS_PER_DAY + i64::from(hour * 3600 + minute * 60 + second) - offset;
        Self::from_ticks_checked(
            i128::from(seconds) * i128::from(TICKS_PER_SECOND) + i128::from(fraction),
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(Printed::of(*self).as_str())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn prints_like_the_hub() {
        assert_eq!(
            ts("2021-09-06T08:49:54.8803577Z").to_string(),
            "2021-09-06T08:49:54.8803577Z"
        );
        assert_eq!(Timestamp::MIN.to_string(), "0001-01-01T00:00:00Z");
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.9999999Z");
        assert_eq!(
            Timestamp::UNIX_EPOCH.to_string(),
            "1970-01-01T00:00:00.0000000Z"
        );
    }

    #[test]
    fn parses_the_forms_clients_send() {
        let expected = ts("2026-11-26T10:04:26.7760180Z");
        assert_eq!(ts("2026-11-26T10:04:26.776018Z"), expected);
        assert_eq!(ts("2026-11-26T10:04:26.776018"), expected);
        assert_eq!(ts("2026-11-26T10:04:26.776018+00:00"), expected);
        assert_eq!(ts("2026-11-26T12:04:26.776018+02:00"), expected);
        assert_eq!(ts("2026-11-26T09:34:26.776018-00:30"), expected);
        assert_eq!(ts("2026-11-26t10:04:26.776018z"), expected);
        assert_eq!(ts("2026-11-26T10:04:26.77601800099Z"), expected);
        assert_eq!(ts("0001-01-01T00:00:00Z"), Timestamp::MIN);
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for bad in [
            "",
            "2026-11-26",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:60:00Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00Zjunk",
            "0000-01-01T00:00:00Z",
            "0001-01-01T00:00:00+00:01",
            "2026-01-01T00:00:00+2:00",
            "２０２６-01-01T00:00:00Z",
        ] {
            assert!(
                bad.parse::<Timestamp>().is_err(),
                "{bad:?} should be rejected"
            );
        }
        assert!("2024-02-29T00:00:00Z".parse::<Timestamp>().is_ok());
    }

    #[test]
    fn converts_unix_and_system_time() {
        let t = Timestamp::from_unix_seconds(1_700_000_000).unwrap();
        assert_eq!(t.to_string(), "2023-11-14T22:13:20.0000000Z");
        assert_eq!(t.unix_seconds(), 1_700_000_000);
        let system = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        let t = Timestamp::from_system_time(system).unwrap();
        assert_eq!(t.to_string(), "2023-11-14T22:13:20.1234567Z");
        assert_eq!(
            t.to_system_time(),
            UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_700)
        );
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(
            Timestamp::from_system_time(before).unwrap().to_string(),
            "1969-12-31T23:59:59.0000000Z"
        );
        assert_eq!(
            Timestamp::from_unix_seconds(i64::MAX),
            Err(TimestampError::OutOfRange)
        );
    }

    #[test]
    fn arithmetic_stays_in_range() {
        let t = Timestamp::UNIX_EPOCH;
        let later = t.checked_add(Duration::from_millis(1500)).unwrap();
        assert_eq!(later.duration_since(t), Some(Duration::from_millis(1500)));
        assert_eq!(t.duration_since(later), None);
        assert_eq!(later.checked_sub(Duration::from_millis(1500)), Some(t));
        assert_eq!(Timestamp::MAX.checked_add(Duration::from_nanos(100)), None);
        assert_eq!(Timestamp::MIN.checked_sub(Duration::from_nanos(100)), None);
    }

    #[test]
    fn serde_uses_the_text_form() {
        let t = ts("2021-09-06T08:49:54.8803577Z");
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2021-09-06T08:49:54.8803577Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
        assert!(serde_json::from_str::<Timestamp>("12").is_err());
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(ticks in 0..END_TICKS) {
            let t = Timestamp { ticks };
            prop_assert_eq!(t.to_string().parse::<Timestamp>().unwrap(), t);
        }

        #[test]
        fn printing_matches_the_formatted_fields(ticks in 1..END_TICKS) {
            let t = Timestamp::from_ticks_checked(i128::from(ticks)).unwrap();
            let (year, month, day, hour, minute, second, fraction) = t.fields();
            let expected = format!(
                "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{fraction:07}Z"
            );
            prop_assert_eq!(&t.to_string(), &expected);
            prop_assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{expected}\""));
        }

        #[test]
        fn calendar_round_trip(days in -DAYS_TO_UNIX_EPOCH..(DAYS_TO_YEAR_10000 - DAYS_TO_UNIX_EPOCH)) {
            let (y, m, d) = civil_from_days(days);
            prop_assert!((1..=12).contains(&m));
            prop_assert!(d >= 1 && d <= days_in_month(y, m));
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn order_matches_unix_nanos(a in 0..END_TICKS, b in 0..END_TICKS) {
            let (a, b) = (Timestamp { ticks: a }, Timestamp { ticks: b });
            prop_assert_eq!(a.cmp(&b), a.unix_nanos().cmp(&b.unix_nanos()));
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,40}") {
            let _ = text.parse::<Timestamp>();
        }
    }
}
