//! Which instances of a failed host are evacuated, and in which order.
//!
//! The reference rules (fence_evacuate): an instance is evacuable when its
//! flavor has the extra spec `evacuable=true` (private flavors included)
//! or its image has the tag `evacuable` (or the property
//! `evacuable=true`); when nothing anywhere in the cloud is tagged, every
//! instance is. On top of that: explicit policies, a per-server opt-in or
//! opt-out, state rules, and a priority. Every skip carries its reason.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::openstack::Server;

/// The tag, extra spec and property name of the reference.
pub const EVACUABLE: &str = "evacuable";
/// Server metadata `instance-ha:evacuate=true|false`: per-server opt-in/out.
pub const OPT_KEY: &str = "instance-ha:evacuate";
/// Server metadata or flavor extra spec: integer, higher goes first.
pub const PRIORITY_KEY: &str = "instance-ha:priority";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filtering {
    /// The reference: tagged instances if anything is tagged, else all.
    Auto,
    All,
    Tagged,
    None,
}

impl Filtering {
    pub fn parse(s: &str) -> Result<Filtering> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Filtering::Auto,
            "all" => Filtering::All,
            "tagged" => Filtering::Tagged,
            "none" => Filtering::None,
            other => {
                return Err(Error::usage(format!(
                    "invalid evacuate_policy '{other}': expected auto, all, tagged or none"
                )))
            }
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Filtering::Auto => "auto",
            Filtering::All => "all",
            Filtering::Tagged => "tagged",
            Filtering::None => "none",
        }
    }
}

/// Instances in ERROR on the failed host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorInstances {
    /// Leave them (default): their state says something already went
    /// wrong, and rebuilding them elsewhere changes their state to ACTIVE.
    Skip,
    /// Rebuild them elsewhere (they come back ACTIVE).
    Evacuate,
}

impl ErrorInstances {
    pub fn parse(s: &str) -> Result<ErrorInstances> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "skip" | "" => ErrorInstances::Skip,
            "evacuate" => ErrorInstances::Evacuate,
            other => {
                return Err(Error::usage(format!(
                    "invalid error_instances '{other}': expected skip or evacuate"
                )))
            }
        })
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub filtering: Filtering,
    pub error_instances: ErrorInstances,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            filtering: Filtering::Auto,
            error_instances: ErrorInstances::Skip,
        }
    }
}

/// What is tagged evacuable anywhere in the cloud.
#[derive(Debug, Clone, Default)]
pub struct Tagged {
    /// Flavor ids and names with `evacuable=true`.
    pub flavors: HashSet<String>,
    /// Image ids tagged `evacuable` or with `evacuable=true`.
    pub images: HashSet<String>,
}

impl Tagged {
    pub fn any(&self) -> bool {
        !self.flavors.is_empty() || !self.images.is_empty()
    }
}

pub fn is_true(v: &str) -> bool {
    v.trim().eq_ignore_ascii_case("true")
}

/// The power state an evacuated instance must arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Expect {
    Active,
    Shutoff,
}

impl Expect {
    pub fn status(self) -> &'static str {
        match self {
            Expect::Active => "ACTIVE",
            Expect::Shutoff => "SHUTOFF",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Evacuate {
        expect: Expect,
        priority: i64,
        why: String,
    },
    /// An evacuation of it is already running (task_state rebuilding):
    /// follow it, never send a second request.
    InFlight {
        expect: Expect,
        priority: i64,
    },
    Skip {
        reason: String,
    },
}

fn priority(server: &Server) -> i64 {
    let parse = |v: &String| v.trim().parse::<i64>().ok();
    server
        .metadata
        .get(PRIORITY_KEY)
        .and_then(parse)
        .or_else(|| server.flavor.extra_specs.get(PRIORITY_KEY).and_then(parse))
        .unwrap_or(0)
}

fn flavor_tagged(server: &Server, tagged: &Tagged) -> bool {
    server
        .flavor
        .extra_specs
        .get(EVACUABLE)
        .is_some_and(|v| is_true(v))
        || server
            .flavor
            .id
            .as_ref()
            .is_some_and(|id| tagged.flavors.contains(id))
        || server
            .flavor
            .original_name
            .as_ref()
            .is_some_and(|n| tagged.flavors.contains(n))
}

fn image_tagged(server: &Server, tagged: &Tagged) -> bool {
    server
        .image_id
        .as_ref()
        .is_some_and(|id| tagged.images.contains(id))
}

/// Decide for one server of the failed host.
pub fn decide(server: &Server, policy: &Policy, tagged: &Tagged) -> Decision {
    let vm_state = server
        .vm_state
        .clone()
        .unwrap_or_else(|| server.status.to_ascii_lowercase());
    let task = server.task_state.clone().unwrap_or_default();
    let prio = priority(server);

    // 1. State: what Nova can evacuate (active, stopped, error) and what
    //    it should arrive as.
    let expect = match vm_state.as_str() {
        _ if task.starts_with("rebuild") => {
            // Mid-evacuation the status reads REBUILD; vm_state keeps what
            // the server was. (Reading the status made a controller that took
            // a running evacuation over expect ACTIVE and start a server that
            // had been SHUTOFF: controller-dies scenario.)
            let expect = if vm_state == "stopped" || server.status == "SHUTOFF" {
                Expect::Shutoff
            } else {
                Expect::Active
            };
            return Decision::InFlight {
                expect,
                priority: prio,
            };
        }
        "active" => Expect::Active,
        "stopped" => Expect::Shutoff,
        "error" => match policy.error_instances {
            ErrorInstances::Skip => {
                return Decision::Skip {
                    reason: "in ERROR state (error_instances=skip)".into(),
                }
            }
            ErrorInstances::Evacuate => Expect::Active,
        },
        "shelved" | "shelved_offloaded" => {
            return Decision::Skip {
                reason: format!("{vm_state}: unshelve it instead"),
            }
        }
        "building" => {
            return Decision::Skip {
                reason: "still building".into(),
            }
        }
        "deleted" | "soft-delete" | "soft_deleted" => {
            return Decision::Skip {
                reason: format!("{vm_state}"),
            }
        }
        other => {
            return Decision::Skip {
                reason: format!(
                    "vm_state {other}: Nova evacuates only active, stopped and error instances"
                ),
            }
        }
    };
    if !task.is_empty() {
        return Decision::Skip {
            reason: format!("task {task} in progress"),
        };
    }

    // 2. Per-server opt-in/opt-out wins over every policy.
    match server
        .metadata
        .get(OPT_KEY)
        .map(|v| v.trim().to_ascii_lowercase())
    {
        Some(v) if v == "false" || v == "no" => {
            return Decision::Skip {
                reason: format!("opted out ({OPT_KEY}={v})"),
            }
        }
        Some(v) if v == "true" || v == "yes" => {
            return Decision::Evacuate {
                expect,
                priority: prio,
                why: format!("opted in ({OPT_KEY}={v})"),
            }
        }
        _ => {}
    }

    // 3. Policy.
    let tagged_here = if flavor_tagged(server, tagged) {
        Some("flavor tagged evacuable")
    } else if image_tagged(server, tagged) {
        Some("image tagged evacuable")
    } else {
        None
    };
    match (policy.filtering, tagged_here) {
        (Filtering::None, _) => Decision::Skip {
            reason: "instance filtering selects nothing (policy none)".into(),
        },
        (Filtering::All, _) => Decision::Evacuate {
            expect,
            priority: prio,
            why: "policy all".into(),
        },
        (Filtering::Tagged | Filtering::Auto, Some(why)) => Decision::Evacuate {
            expect,
            priority: prio,
            why: why.into(),
        },
        (Filtering::Auto, None) if !tagged.any() => Decision::Evacuate {
            expect,
            priority: prio,
            why: "nothing in the cloud is tagged evacuable: all".into(),
        },
        (Filtering::Auto | Filtering::Tagged, None) => Decision::Skip {
            reason: "neither its flavor nor its image is tagged evacuable".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openstack::Flavor;
    use std::collections::BTreeMap;

    fn server(vm_state: &str) -> Server {
        Server {
            id: "id".into(),
            name: "vm".into(),
            status: match vm_state {
                "stopped" => "SHUTOFF".into(),
                s => s.to_uppercase(),
            },
            host: Some("c1".into()),
            hypervisor_hostname: None,
            vm_state: Some(vm_state.into()),
            task_state: None,
            power_state: None,
            flavor: Flavor {
                id: Some("f1".into()),
                original_name: Some("small".into()),
                extra_specs: BTreeMap::new(),
            },
            image_id: Some("img1".into()),
            metadata: BTreeMap::new(),
            tenant_id: "t".into(),
            updated: String::new(),
        }
    }

    fn evacuated(d: &Decision) -> bool {
        matches!(d, Decision::Evacuate { .. })
    }

    #[test]
    fn reference_rules() {
        let p = Policy::default();
        let none = Tagged::default();
        assert!(
            evacuated(&decide(&server("active"), &p, &none)),
            "nothing tagged: all"
        );
        let mut t = Tagged::default();
        t.images.insert("other".into());
        assert!(
            !evacuated(&decide(&server("active"), &p, &t)),
            "something else tagged"
        );
        let mut s = server("active");
        s.flavor
            .extra_specs
            .insert("evacuable".into(), "True".into());
        assert!(evacuated(&decide(&s, &p, &t)), "flavor tagged");
        let mut s = server("active");
        s.image_id = Some("other".into());
        assert!(evacuated(&decide(&s, &p, &t)), "image tagged");
    }

    #[test]
    fn states_and_power() {
        let p = Policy::default();
        let t = Tagged::default();
        assert_eq!(
            decide(&server("stopped"), &p, &t),
            Decision::Evacuate {
                expect: Expect::Shutoff,
                priority: 0,
                why: "nothing in the cloud is tagged evacuable: all".into()
            }
        );
        assert!(matches!(
            decide(&server("error"), &p, &t),
            Decision::Skip { .. }
        ));
        let pe = Policy {
            error_instances: ErrorInstances::Evacuate,
            ..Policy::default()
        };
        assert!(matches!(
            decide(&server("error"), &pe, &t),
            Decision::Evacuate {
                expect: Expect::Active,
                ..
            }
        ));
        assert!(matches!(
            decide(&server("paused"), &p, &t),
            Decision::Skip { .. }
        ));
        assert!(matches!(
            decide(&server("shelved"), &p, &t),
            Decision::Skip { .. }
        ));
        let mut s = server("active");
        s.task_state = Some("rebuilding".into());
        assert!(matches!(decide(&s, &p, &t), Decision::InFlight { .. }));
        // regression: a stopped server mid-evacuation (status REBUILD) is
        // expected back SHUTOFF, not started
        let mut stopped = server("stopped");
        stopped.status = "REBUILD".into();
        stopped.task_state = Some("rebuilding".into());
        assert!(matches!(
            decide(&stopped, &p, &t),
            Decision::InFlight {
                expect: Expect::Shutoff,
                ..
            }
        ));
        s.status = "REBUILD".into();
        assert!(matches!(
            decide(&s, &p, &t),
            Decision::InFlight {
                expect: Expect::Active,
                ..
            }
        ));
        s.task_state = Some("migrating".into());
        assert!(matches!(decide(&s, &p, &t), Decision::Skip { .. }));
    }

    #[test]
    fn opt_in_out_and_policies() {
        let mut t = Tagged::default();
        t.flavors.insert("gold".into());
        let mut s = server("active");
        s.metadata.insert(OPT_KEY.into(), "true".into());
        assert!(evacuated(&decide(&s, &Policy::default(), &t)));
        assert!(evacuated(&decide(
            &s,
            &Policy {
                filtering: Filtering::None,
                ..Policy::default()
            },
            &t
        )));
        s.metadata.insert(OPT_KEY.into(), "false".into());
        assert!(!evacuated(&decide(
            &s,
            &Policy {
                filtering: Filtering::All,
                ..Policy::default()
            },
            &t
        )));
        let s = server("active");
        assert!(!evacuated(&decide(
            &s,
            &Policy {
                filtering: Filtering::Tagged,
                ..Policy::default()
            },
            &Tagged::default()
        )));
        assert!(evacuated(&decide(
            &s,
            &Policy {
                filtering: Filtering::All,
                ..Policy::default()
            },
            &t
        )));
    }

    #[test]
    fn priority_from_metadata_then_flavor() {
        let mut s = server("active");
        s.flavor.extra_specs.insert(PRIORITY_KEY.into(), "5".into());
        assert!(matches!(
            decide(&s, &Policy::default(), &Tagged::default()),
            Decision::Evacuate { priority: 5, .. }
        ));
        s.metadata.insert(PRIORITY_KEY.into(), "9".into());
        assert!(matches!(
            decide(&s, &Policy::default(), &Tagged::default()),
            Decision::Evacuate { priority: 9, .. }
        ));
    }
}
