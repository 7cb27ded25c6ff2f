//! Where `GET /sends/data_series` parameters get validated and its days decided
//! (docs/contract.md §6): `length` 1–100, `ending_at` ISO 8601, the UTC days of the range,
//! 14 days of retention, and a campaign's `channel`.
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use super::quota::UtcDay;

/// Braze: `length` "must be between 1 and 100 (inclusive)".
pub const MAX_LENGTH: u32 = 100;
/// Braze: "Braze stores send analytics for 14 days after the send."
pub const RETENTION_DAYS: i64 = 14;

/// `length`, checked.
pub fn check_length(n: i64) -> Result<u32, String> {
    if (1..=MAX_LENGTH as i64).contains(&n) {
        Ok(n as u32)
    } else {
        Err(format!(
            "length must be between 1 and 100 (inclusive), got {n}"
        ))
    }
}

/// `ending_at`: an ISO 8601 date-time (`2014-12-10T23:59:59-05:00`, `…Z`, fractions of a
/// second, an offset of one hour digit as in Braze's own example `-5:00`, no offset = UTC) or a
/// date (`2014-12-10`, the end of that UTC day). Unix epoch seconds of the instant.
pub fn parse_ending_at(raw: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "ending_at must be an ISO 8601 date-time such as 2014-12-10T23:59:59-05:00 (or a date, 2014-12-10); got {raw:?}"
        )
    };
    let s = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    if let Some(fixed) = widen_offset(s) {
        if let Ok(t) = DateTime::parse_from_rfc3339(&fixed) {
            return Ok(t.timestamp());
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(Utc.from_utc_datetime(&t).timestamp());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let end = NaiveTime::from_hms_opt(23, 59, 59).ok_or_else(bad)?;
        return Ok(Utc.from_utc_datetime(&d.and_time(end)).timestamp());
    }
    Err(bad())
}

/// `…-5:00` → `…-05:00`: RFC 3339 wants two hour digits.
fn widen_offset(s: &str) -> Option<String> {
    let sign = s.rfind(['+', '-'])?;
    let (head, offset) = s.split_at(sign);
    if !head.contains('T') {
        return None;
    }
    let (hours, minutes) = offset[1..].split_once(':')?;
    (hours.len() == 1 && minutes.len() == 2)
        .then(|| format!("{head}{}0{hours}:{minutes}", &offset[..1]))
}

/// The UTC days of a series: `length` days ending with the day of `ending_at`, oldest first.
pub fn days(ending_at: i64, length: u32) -> Vec<UtcDay> {
    let last = UtcDay::containing(ending_at).number();
    (0..length as i64)
        .rev()
        .map(|back| UtcDay::from_number(last - back))
        .collect()
}

/// Whether a day's analytics are still kept at `now`: the day of the send and the 14 days
/// after it. Older days answer zeros (sendid decides: the day stays in the series, empty).
pub fn retained(day: UtcDay, now_seconds: i64) -> bool {
    UtcDay::containing(now_seconds).number() - day.number() <= RETENTION_DAYS
}

/// `YYYY-MM-DD` of a UTC day, as Braze's `time`.
pub fn date_of(day: UtcDay) -> String {
    DateTime::<Utc>::from_timestamp(day.number() * 86_400, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// A `YYYY-MM-DD` date as a UTC day.
pub fn parse_date(raw: &str) -> Option<UtcDay> {
    let d = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    Some(UtcDay::containing(
        Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN))
            .timestamp(),
    ))
}

/// The channels Braze's analytics key `messages` by, as a campaign's `channel`.
pub const CHANNELS: &[&str] = &[
    "email",
    "ios_push",
    "android_push",
    "kindle_push",
    "web_push",
    "webhook",
    "sms",
    "whats_app",
    "content_cards",
    "in_app_message",
];

/// A campaign's channel when none is given.
pub const DEFAULT_CHANNEL: &str = "email";

/// A channel from [`CHANNELS`].
pub fn parse_channel(raw: &str) -> Result<&'static str, String> {
    CHANNELS
        .iter()
        .find(|c| **c == raw)
        .copied()
        .ok_or_else(|| {
            format!(
                "channel: {raw:?} is not a known channel; known: {}",
                CHANNELS.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_bounds() {
        assert_eq!(check_length(1), Ok(1));
        assert_eq!(check_length(100), Ok(100));
        for bad in [0, 101, -1, i64::MIN, i64::MAX] {
            assert!(check_length(bad).unwrap_err().contains("length"), "{bad}");
        }
    }

    #[test]
    fn ending_at_forms() {
        // Braze's example: 23:59:59 at -05:00 is 04:59:59 UTC the next day.
        let t = parse_ending_at("2014-12-10T23:59:59-05:00").unwrap();
        assert_eq!(date_of(UtcDay::containing(t)), "2014-12-11");
        assert_eq!(
            parse_ending_at("2020-06-28T23:59:59-5:00").unwrap(),
            parse_ending_at("2020-06-29T04:59:59Z").unwrap()
        );
        assert!(parse_ending_at("2026-11-27T12:00:00.250Z").is_ok());
        assert!(parse_ending_at("2026-11-27T12:00:00").is_ok());
        let d = parse_ending_at("2026-11-27").unwrap();
        assert_eq!(date_of(UtcDay::containing(d)), "2026-11-27");
        for bad in [
            "yesterday",
            "2026-13-01",
            "2026-11-27T25:00:00Z",
            "1795780800",
            "",
        ] {
            assert!(
                parse_ending_at(bad).unwrap_err().contains("ending_at"),
                "{bad}"
            );
        }
    }

    #[test]
    fn days_are_oldest_first_and_end_on_the_day_of_ending_at() {
        let end = parse_ending_at("2026-11-27T00:00:01Z").unwrap();
        let d: Vec<String> = days(end, 3).into_iter().map(date_of).collect();
        assert_eq!(d, ["2026-11-25", "2026-11-26", "2026-11-27"]);
        assert_eq!(parse_date("2026-11-25"), Some(days(end, 3)[0]));
    }

    #[test]
    fn retention_keeps_the_send_day_and_fourteen_after() {
        let now = parse_ending_at("2026-11-27T12:00:00Z").unwrap();
        let today = UtcDay::containing(now).number();
        assert!(retained(UtcDay::from_number(today), now));
        assert!(retained(UtcDay::from_number(today - 14), now));
        assert!(!retained(UtcDay::from_number(today - 15), now));
    }

    #[test]
    fn channels() {
        assert_eq!(parse_channel("email"), Ok("email"));
        assert!(parse_channel("carrier_pigeon")
            .unwrap_err()
            .contains("known: email"));
    }
}
