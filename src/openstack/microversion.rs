//! API microversions (`2.53`), as Nova and other services advertise them.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A microversion `major.minor`. Ordered numerically (2.9 < 2.10), which is
/// why it is not compared as a string or a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Microversion {
    pub major: u16,
    pub minor: u16,
}

impl Microversion {
    pub const fn new(major: u16, minor: u16) -> Self {
        Microversion { major, minor }
    }
}

impl fmt::Display for Microversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for Microversion {
    type Err = Error;

    /// Accepts `2.53`, and the `v2.1` spelling used in version documents'
    /// `id` field. `latest` is refused on purpose: a client must know the
    /// request and response shapes it asks for.
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        let t = t.strip_prefix('v').unwrap_or(t);
        let bad = || {
            Error::config(format!(
                "invalid microversion {s:?} (expected MAJOR.MINOR, e.g. 2.53)"
            ))
        };
        let (a, b) = t.split_once('.').ok_or_else(bad)?;
        let num = |x: &str| {
            if x.is_empty() || !x.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            x.parse::<u16>().map_err(|_| bad())
        };
        Ok(Microversion::new(num(a)?, num(b)?))
    }
}

/// The microversions a service endpoint accepts (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRange {
    pub min: Microversion,
    pub max: Microversion,
}

impl VersionRange {
    pub fn contains(&self, v: Microversion) -> bool {
        self.min <= v && v <= self.max
    }

    /// The highest version this range offers that is at most `cap`, if any.
    pub fn highest_up_to(&self, cap: Microversion) -> Option<Microversion> {
        let v = self.max.min(cap);
        (v >= self.min).then_some(v)
    }

    /// `want` when offered, for calls with one preferred shape.
    pub fn offers(&self, want: Microversion) -> Option<Microversion> {
        self.contains(want).then_some(want)
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.min, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mv(s: &str) -> Microversion {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_display() {
        assert_eq!(mv("2.53"), Microversion::new(2, 53));
        assert_eq!(mv(" v2.1 "), Microversion::new(2, 1));
        assert_eq!(mv("2.100").to_string(), "2.100");
        for bad in [
            "",
            "2",
            "2.",
            ".5",
            "latest",
            "2.x",
            "2.-1",
            "2.5.1",
            "99999999.1",
        ] {
            assert!(bad.parse::<Microversion>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn numeric_order() {
        assert!(mv("2.9") < mv("2.10"));
        assert!(mv("2.95") > mv("2.94"));
        assert!(mv("3.0") > mv("2.103"));
        let mut v = vec![mv("2.53"), mv("2.1"), mv("2.11"), mv("2.2")];
        v.sort();
        assert_eq!(v, vec![mv("2.1"), mv("2.2"), mv("2.11"), mv("2.53")]);
    }

    #[test]
    fn range_choice() {
        let r = VersionRange {
            min: mv("2.1"),
            max: mv("2.60"),
        };
        assert_eq!(r.highest_up_to(mv("2.94")), Some(mv("2.60")));
        assert_eq!(r.highest_up_to(mv("2.11")), Some(mv("2.11")));
        assert_eq!(r.offers(mv("2.53")), Some(mv("2.53")));
        assert_eq!(r.offers(mv("2.95")), None);
        let high = VersionRange {
            min: mv("2.96"),
            max: mv("2.103"),
        };
        assert_eq!(high.highest_up_to(mv("2.94")), None);
    }
}
