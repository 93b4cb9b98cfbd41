//! Durable evacuation state, kept in Nova itself.
//!
//! attrd forgets a pacemaker_remote node's attributes when the node
//! reconnects, and a local file lives on one controller only. Nova's
//! service record is shared by every controller, survives every restart
//! and is what operators already look at (`openstack compute service list
//! --long`), so the state of a host's evacuation is written into the
//! nova-compute service's `disabled_reason`, which the agents set anyway
//! when they disable a fenced host:
//!
//! ```text
//! instance-ha: pending since 2026-11-21T20:47:27Z by fence_compute
//! instance-ha: evacuating since 2026-11-21T20:47:29Z by ctl1
//! instance-ha: evacuated since 2026-11-21T20:48:10Z by ctl1
//! instance-ha: incomplete since 2026-11-21T20:48:10Z by ctl1; 2 of 20 failed
//! instance-ha: recovering since 2026-11-21T20:50:02Z by fence_compute
//! ```
//!
//! `recovering`: the host was unfenced and must be put back in service
//! (forced_down=false, enabled) once its restarted nova-compute has cleaned
//! up the evacuated instances; nova-compute-wait finishes it.

use crate::time::{format_rfc3339, now, parse_datetime};

pub const PREFIX: &str = "instance-ha:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Fenced; nobody has started evacuating yet.
    Pending,
    /// An evacuation of this host is running (or was, if its owner died).
    Evacuating,
    /// Every selected instance runs elsewhere.
    Evacuated,
    /// The evacuation ended with failures; NovaEvacuate retries later.
    Incomplete,
    /// Unfenced; waiting to put the host back in service.
    Recovering,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::Evacuating => "evacuating",
            Phase::Evacuated => "evacuated",
            Phase::Incomplete => "incomplete",
            Phase::Recovering => "recovering",
        }
    }
    fn parse(s: &str) -> Option<Phase> {
        Some(match s {
            "pending" => Phase::Pending,
            "evacuating" => Phase::Evacuating,
            "evacuated" => Phase::Evacuated,
            "incomplete" => Phase::Incomplete,
            "recovering" => Phase::Recovering,
            _ => return None,
        })
    }
    /// Is an evacuation still owed or running (nova-compute must wait)?
    pub fn evacuation_open(self) -> bool {
        matches!(self, Phase::Pending | Phase::Evacuating | Phase::Incomplete)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub phase: Phase,
    /// Seconds since the epoch.
    pub since: u64,
    pub by: String,
    pub note: Option<String>,
}

impl Marker {
    pub fn new(phase: Phase, by: &str) -> Marker {
        Marker {
            phase,
            since: now(),
            by: by.to_string(),
            note: None,
        }
    }
    pub fn with_note(mut self, note: impl Into<String>) -> Marker {
        self.note = Some(note.into());
        self
    }

    /// The `disabled_reason` text (Nova allows 255 characters).
    pub fn render(&self) -> String {
        let mut s = format!(
            "{PREFIX} {} since {} by {}",
            self.phase.name(),
            format_rfc3339(self.since),
            self.by
        );
        if let Some(n) = &self.note {
            s.push_str("; ");
            s.push_str(n);
        }
        let mut cut = s.len().min(255);
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s
    }

    /// Read a marker back; `None` for any reason not written by us (an
    /// operator's own reason is left alone).
    pub fn parse(reason: Option<&str>) -> Option<Marker> {
        let rest = reason?.trim().strip_prefix(PREFIX)?.trim_start();
        let (head, note) = match rest.split_once("; ") {
            Some((h, n)) => (h, Some(n.to_string())),
            None => (rest, None),
        };
        let mut words = head.split_whitespace();
        let phase = Phase::parse(words.next()?)?;
        let mut since = 0;
        let mut by = String::new();
        while let Some(w) = words.next() {
            match w {
                "since" => since = words.next().and_then(parse_datetime).unwrap_or(0),
                "by" => by = words.next().unwrap_or("").to_string(),
                _ => {}
            }
        }
        Some(Marker {
            phase,
            since,
            by,
            note,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let m = Marker {
            phase: Phase::Evacuating,
            since: 1_763_758_047,
            by: "ctl1".into(),
            note: None,
        };
        let r = m.render();
        assert_eq!(
            r,
            "instance-ha: evacuating since 2025-11-21T20:47:27Z by ctl1"
        );
        assert_eq!(Marker::parse(Some(&r)), Some(m));
        let m = Marker::new(Phase::Incomplete, "ctl2").with_note("2 of 20 failed");
        assert_eq!(Marker::parse(Some(&m.render())), Some(m));
    }

    #[test]
    fn foreign_reasons_are_not_ours() {
        assert_eq!(Marker::parse(Some("maintenance: disk swap")), None);
        assert_eq!(Marker::parse(None), None);
        assert_eq!(Marker::parse(Some("instance-ha: bogus since x")), None);
    }

    #[test]
    fn long_notes_fit_nova() {
        let m = Marker::new(Phase::Incomplete, "ctl1").with_note("x".repeat(400));
        assert!(m.render().len() <= 255);
    }

    #[test]
    fn open_phases() {
        assert!(Phase::Pending.evacuation_open());
        assert!(Phase::Evacuating.evacuation_open());
        assert!(!Phase::Evacuated.evacuation_open());
        assert!(!Phase::Recovering.evacuation_open());
    }
}
