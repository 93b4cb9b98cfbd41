//! Just enough date handling for token expiry (`expires_at`), without a
//! date crate: Keystone writes `2026-11-21T12:34:56.000000Z`.

use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Seconds since the epoch for an ISO 8601 / RFC 3339 timestamp; a missing
/// zone means UTC (Nova and Keystone store UTC). None when unparseable.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, se) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
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
    Some(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset)
}

/// Howard Hinnant's days_from_civil: proleptic Gregorian date -> days since
/// 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keystone_and_nova_timestamps() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), Some(951868800));
        assert_eq!(
            parse_rfc3339("2026-11-21T12:00:00.123456Z"),
            Some(1795262400)
        );
        assert_eq!(
            parse_rfc3339("2026-11-21T12:00:00.000000"),
            Some(1795262400)
        );
        assert_eq!(parse_rfc3339("2026-11-21T13:00:00+01:00"), Some(1795262400));
        assert_eq!(parse_rfc3339("2026-11-21T11:30:00-0030"), Some(1795262400));
        assert_eq!(parse_rfc3339("tomorrow"), None);
        assert_eq!(parse_rfc3339("2026-13-21T11:30:00Z"), None);
    }
}
