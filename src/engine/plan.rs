//! A plan: every instance of the failed host with its decision, the
//! selected ones in evacuation order (highest priority first, then
//! ACTIVE before SHUTOFF, then by name for a stable order).

use serde::Serialize;

use super::select::{decide, Decision, Expect, Policy, Tagged};
use crate::error::Result;
use crate::openstack::{Glance, Nova, Server};

#[derive(Debug, Clone, Serialize)]
pub struct PlannedInstance {
    pub id: String,
    pub name: String,
    pub status: String,
    pub tenant_id: String,
    #[serde(skip)]
    pub decision: Decision,
    /// "evacuate", "in-flight" or "skip".
    pub action: &'static str,
    /// Why it is evacuated or skipped.
    pub reason: String,
    pub priority: i64,
    pub expect: Option<Expect>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub host: String,
    pub policy: String,
    /// Instances to evacuate or follow, in order.
    pub selected: Vec<PlannedInstance>,
    pub skipped: Vec<PlannedInstance>,
}

impl Plan {
    /// Decide for `servers` (the failed host's, as Nova lists them).
    pub fn from_servers(
        host: &str,
        servers: Vec<Server>,
        policy: &Policy,
        tagged: &Tagged,
    ) -> Plan {
        let mut selected = Vec::new();
        let mut skipped = Vec::new();
        for s in servers {
            let d = decide(&s, policy, tagged);
            let (action, reason, priority, expect) = match &d {
                Decision::Evacuate {
                    expect,
                    priority,
                    why,
                } => ("evacuate", why.clone(), *priority, Some(*expect)),
                Decision::InFlight { expect, priority } => (
                    "in-flight",
                    "an evacuation is already running".to_string(),
                    *priority,
                    Some(*expect),
                ),
                Decision::Skip { reason } => ("skip", reason.clone(), 0, None),
            };
            let p = PlannedInstance {
                id: s.id,
                name: s.name,
                status: s.status,
                tenant_id: s.tenant_id,
                decision: d,
                action,
                reason,
                priority,
                expect,
            };
            if action == "skip" {
                skipped.push(p);
            } else {
                selected.push(p);
            }
        }
        selected.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then((a.expect != Some(Expect::Active)).cmp(&(b.expect != Some(Expect::Active))))
                .then(a.name.cmp(&b.name))
                .then(a.id.cmp(&b.id))
        });
        skipped.sort_by(|a, b| a.name.cmp(&b.name));
        Plan {
            host: host.to_string(),
            policy: format!("{:?}", policy.filtering).to_lowercase(),
            selected,
            skipped,
        }
    }

    /// Ask Nova (and Glance) and decide.
    pub fn build(
        nova: &Nova,
        glance: Option<&Glance>,
        host: &str,
        policy: &Policy,
    ) -> Result<Plan> {
        let servers = nova.servers_on_host(host)?;
        let tagged = tagged_catalog(nova, glance, policy)?;
        Ok(Plan::from_servers(host, servers, policy, &tagged))
    }
}

/// What is tagged evacuable in the whole cloud; only needed by the
/// policies that look at tags.
pub fn tagged_catalog(nova: &Nova, glance: Option<&Glance>, policy: &Policy) -> Result<Tagged> {
    use super::select::Filtering;
    let mut t = Tagged::default();
    if matches!(policy.filtering, Filtering::All | Filtering::None) {
        return Ok(t);
    }
    for f in nova.flavors_with_spec(super::select::EVACUABLE)? {
        if super::select::is_true(&f.1) {
            t.flavors.insert(f.0.id.clone());
            t.flavors.insert(f.0.name.clone());
        }
    }
    if let Some(g) = glance {
        for id in g.evacuable_images(super::select::EVACUABLE)? {
            t.images.insert(id);
        }
    }
    Ok(t)
}
