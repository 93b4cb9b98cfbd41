//! Timestamps without a date crate: Nova, Keystone and Pacemaker all write
//! ISO 8601 (`2026-11-21T20:47:27.000000Z`, `2026-11-21 20:47:27Z`), and the
//! agents only need seconds since the epoch in UTC.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch, now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Seconds since the epoch, with sub-second precision.
pub fn now_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Parse an ISO 8601 / RFC 3339 timestamp (a missing zone means UTC, as
/// Nova stores UTC). `None` when unparseable or before 1970.
pub fn parse_datetime(s: &str) -> Option<u64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, se) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = s[19..].trim_start();
    if let Some(r) = rest.strip_prefix('.') {
        rest = r
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start();
    }
    let offset = match rest {
        "" | "Z" | "z" | "UTC" | "+00:00" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let t = &rest[1..];
            let (oh, om) = match t.len() {
                5 if t.as_bytes()[2] == b':' => {
                    (t[0..2].parse::<i64>().ok()?, t[3..5].parse::<i64>().ok()?)
                }
                4 => (t[0..2].parse::<i64>().ok()?, t[2..4].parse::<i64>().ok()?),
                2 => (t.parse::<i64>().ok()?, 0),
                _ => return None,
            };
            sign * (oh * 3600 + om * 60)
        }
    };
    let t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    u64::try_from(t).ok()
}

/// `2026-11-21T20:47:27Z`.
pub fn format_rfc3339(t: u64) -> String {
    let days = (t / 86400) as i64;
    let secs = t % 86400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Howard Hinnant's days_from_civil: proleptic Gregorian date -> days
/// since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The inverse of `days_from_civil`.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_datetime("2026-11-21T12:00:00.123456Z"),
            Some(1795262400)
        );
        assert_eq!(
            parse_datetime("2026-11-21T12:00:00.000000"),
            Some(1795262400)
        );
        assert_eq!(
            parse_datetime("2026-11-21 13:00:00 +01:00"),
            Some(1795262400)
        );
        assert_eq!(parse_datetime("2026-11-21T11:30:00-0030"), Some(1795262400));
        assert_eq!(parse_datetime("tomorrow"), None);
        assert_eq!(parse_datetime("2026-13-21T11:30:00Z"), None);
    }

    #[test]
    fn format_round_trip() {
        for t in [0u64, 951868800, 1795262400, 1763758047, 4102444800] {
            assert_eq!(parse_datetime(&format_rfc3339(t)), Some(t), "{t}");
        }
        assert_eq!(format_rfc3339(1795262400), "2026-11-21T12:00:00Z");
    }
}
