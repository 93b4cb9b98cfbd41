//! Token expiry arithmetic in the signed seconds the session uses, on top
//! of the crate's one date parser (`crate::time`).

pub(crate) fn now_unix() -> i64 {
    i64::try_from(crate::time::now()).unwrap_or(i64::MAX)
}

/// Seconds since the epoch for Keystone's `expires_at` (UTC when no zone).
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    crate::time::parse_datetime(s).and_then(|t| i64::try_from(t).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keystone_and_nova_timestamps() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-21T12:00:00.123456Z"),
            Some(1795262400)
        );
        assert_eq!(parse_rfc3339("2026-11-21T13:00:00+01:00"), Some(1795262400));
        assert_eq!(parse_rfc3339("tomorrow"), None);
        assert!(now_unix() > 1_700_000_000);
    }
}
