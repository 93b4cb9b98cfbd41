//! The per-instance report of an evacuation: what happened to every
//! instance of the host, with reasons and times. Serialised as one JSON
//! document for the journal and `instance-ha history`.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// Runs on another host in the state it had.
    Evacuated {
        to: String,
        seconds: f64,
    },
    /// Nova accepted the request (completion = accepted: not followed).
    Accepted,
    /// Moved by an earlier run (killed, or another controller's).
    AlreadyEvacuated {
        to: String,
    },
    Skipped {
        reason: String,
    },
    Failed {
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct InstanceReport {
    pub id: String,
    pub name: String,
    pub status_before: String,
    pub status_after: Option<String>,
    pub attempts: u32,
    /// Evacuate requests this run sent for it.
    pub requests: u32,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub host: String,
    pub by: String,
    pub started: u64,
    pub seconds: f64,
    pub microversion: Option<String>,
    pub instances: Vec<InstanceReport>,
}

impl Report {
    pub fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.instances.iter().filter(|i| f(&i.outcome)).count()
    }
    pub fn evacuated(&self) -> usize {
        self.count(|o| {
            matches!(
                o,
                Outcome::Evacuated { .. } | Outcome::AlreadyEvacuated { .. } | Outcome::Accepted
            )
        })
    }
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed { .. }))
    }
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped { .. }))
    }
    pub fn success(&self) -> bool {
        self.failed() == 0
    }
    /// One line for the log.
    pub fn summary(&self) -> String {
        format!(
            "{}: {} evacuated, {} failed, {} skipped in {:.1}s",
            self.host,
            self.evacuated(),
            self.failed(),
            self.skipped(),
            self.seconds
        )
    }
    /// A table for people.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<38} {:<24} {:<9} {:<18} {}\n",
            "INSTANCE", "NAME", "BEFORE", "OUTCOME", "DETAIL"
        );
        for i in &self.instances {
            let (what, detail) = match &i.outcome {
                Outcome::Evacuated { to, seconds } => (
                    "evacuated",
                    format!(
                        "to {to} in {seconds:.1}s as {}",
                        i.status_after.as_deref().unwrap_or("?")
                    ),
                ),
                Outcome::Accepted => ("accepted", "request accepted (not followed)".to_string()),
                Outcome::AlreadyEvacuated { to } => ("already-evacuated", format!("on {to}")),
                Outcome::Skipped { reason } => ("skipped", reason.clone()),
                Outcome::Failed { reason } => ("FAILED", reason.clone()),
            };
            s.push_str(&format!(
                "{:<38} {:<24} {:<9} {:<18} {}\n",
                i.id,
                truncate(&i.name, 24),
                i.status_before,
                what,
                detail
            ));
        }
        s.push_str(&self.summary());
        s.push('\n');
        s
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "~"
    }
}
