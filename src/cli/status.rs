//! `instance-ha status`: one line per compute host (cluster node, Nova
//! service, evacuation state), then per-instance progress for every host
//! whose evacuation is open.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::{duration, print_json, table, Ctx};
use crate::error::Result;
use crate::hostmap;
use crate::openstack::{MigrationFilter, Nova, Service};
use crate::pacemaker::{attrd, cluster};
use crate::state::Marker;
use crate::time::{format_rfc3339, now, parse_datetime};

#[derive(Debug, Serialize)]
pub struct NodeView {
    pub name: String,
    /// online, offline or unclean.
    pub state: String,
    pub remote: bool,
    pub standby: bool,
    pub maintenance: bool,
}

#[derive(Debug, Serialize)]
pub struct NovaView {
    pub state: String,
    pub status: String,
    pub forced_down: bool,
    pub disabled_reason: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct EvacuationView {
    /// The marker's phase, `null` when the service carries none.
    pub phase: Option<String>,
    pub since: Option<String>,
    pub by: Option<String>,
    pub note: Option<String>,
    /// attrd's `evacuate` value for the node.
    pub attrd: Option<String>,
    /// An evacuation is owed or running.
    pub open: bool,
}

#[derive(Debug, Serialize)]
pub struct InstanceProgress {
    pub id: String,
    pub name: Option<String>,
    /// Still on the failed host: its status and task.
    pub on_host: bool,
    pub status: Option<String>,
    pub task_state: Option<String>,
    /// The latest evacuation migration of it, if any.
    pub migration: Option<String>,
    pub dest: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Progress {
    pub remaining: usize,
    pub migrations: BTreeMap<String, usize>,
    pub instances: Vec<InstanceProgress>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct HostView {
    pub host: String,
    pub node: Option<NodeView>,
    pub nova: NovaView,
    pub evacuation: EvacuationView,
    pub progress: Option<Progress>,
}

#[derive(Debug, Serialize)]
pub struct StatusView {
    pub time: String,
    pub hosts: Vec<HostView>,
    /// Cluster remote nodes that match no Nova compute host.
    pub unmatched_nodes: Vec<String>,
    pub warnings: Vec<String>,
}

fn progress(nova: &Nova, svc: &Service, marker: Option<&Marker>) -> Progress {
    let mut p = Progress {
        remaining: 0,
        migrations: BTreeMap::new(),
        instances: Vec::new(),
        error: None,
    };
    let servers = match nova.servers_on_host(&svc.host) {
        Ok(s) => s,
        Err(e) => {
            p.error = Some(e.to_string());
            return p;
        }
    };
    let migrations = match nova.migrations(&MigrationFilter::evacuations_from(&svc.host)) {
        Ok(m) => m,
        Err(e) => {
            p.error = Some(e.to_string());
            Vec::new()
        }
    };
    // This failure's records only: an incomplete marker's time is the end
    // of the last attempt, so allow an hour before it.
    let since = marker
        .map(|m| m.since)
        .filter(|s| *s > 0)
        .map(|s| s.saturating_sub(3600));
    let mut latest: BTreeMap<String, &crate::openstack::Migration> = BTreeMap::new();
    for m in &migrations {
        let created = m.created_at.as_deref().and_then(parse_datetime);
        if since.is_some_and(|s| created.is_some_and(|c| c < s)) {
            continue;
        }
        let newer = latest.get(&m.instance_uuid).map_or(true, |o| {
            o.created_at.as_deref().and_then(parse_datetime) <= created
        });
        if newer {
            latest.insert(m.instance_uuid.clone(), m);
        }
    }
    for s in &servers {
        let m = latest.remove(&s.id);
        p.instances.push(InstanceProgress {
            id: s.id.clone(),
            name: Some(s.name.clone()),
            on_host: true,
            status: Some(s.status.clone()),
            task_state: s.task_state.clone(),
            migration: m.map(|m| m.status.clone()),
            dest: m.and_then(|m| m.dest_compute.clone()),
        });
    }
    p.remaining = servers.len();
    for (id, m) in latest {
        p.instances.push(InstanceProgress {
            id,
            name: None,
            on_host: false,
            status: None,
            task_state: None,
            migration: Some(m.status.clone()),
            dest: m.dest_compute.clone(),
        });
    }
    p.instances.sort_by(|a, b| {
        b.on_host
            .cmp(&a.on_host)
            .then(a.name.cmp(&b.name))
            .then(a.id.cmp(&b.id))
    });
    for i in &p.instances {
        if let Some(m) = &i.migration {
            *p.migrations.entry(m.clone()).or_default() += 1;
        }
    }
    p
}

pub fn collect(ctx: &Ctx, nova: &Nova) -> Result<StatusView> {
    let mut warnings = Vec::new();
    let services = nova.compute_services(None)?;
    let nodes = match cluster::nodes() {
        Ok(n) => n,
        Err(e) => {
            warnings.push(format!("cluster state unknown: {e}"));
            Vec::new()
        }
    };
    let attrs: BTreeMap<String, String> = match attrd::query_all(attrd::EVACUATE) {
        Ok(v) => v.into_iter().collect(),
        Err(e) => {
            warnings.push(format!("attrd not readable: {e}"));
            BTreeMap::new()
        }
    };
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let hosts: Vec<String> = services.iter().map(|s| s.host.clone()).collect();
    let domain = ctx.domain();
    let mut matched = Vec::new();
    let mut out = Vec::new();
    let mut sorted = services.clone();
    sorted.sort_by(|a, b| a.host.cmp(&b.host));
    for svc in &sorted {
        let node = hostmap::resolve(&svc.host, &names, None)
            .ok()
            .and_then(|n| nodes.iter().find(|x| x.name == n));
        if let Some(n) = node {
            matched.push(n.name.clone());
        }
        let attr = node
            .and_then(|n| attrs.get(&n.name))
            .or_else(|| attrs.get(&svc.host))
            .or_else(|| {
                attrs
                    .iter()
                    .find(|(k, _)| {
                        hostmap::resolve(k, &hosts, domain.as_deref())
                            .ok()
                            .as_deref()
                            == Some(svc.host.as_str())
                    })
                    .map(|(_, v)| v)
            })
            .cloned();
        let marker = Marker::parse(svc.disabled_reason.as_deref());
        let attr_open = attr.as_deref().is_some_and(|v| {
            matches!(
                attrd::parse_mark(v),
                attrd::Mark::Yes | attrd::Mark::InProgress { .. }
            )
        });
        let open = marker.as_ref().is_some_and(|m| m.phase.evacuation_open()) || attr_open;
        let prog = if open {
            Some(progress(nova, svc, marker.as_ref()))
        } else {
            None
        };
        out.push(HostView {
            host: svc.host.clone(),
            node: node.map(|n| NodeView {
                name: n.name.clone(),
                state: if n.unclean {
                    "unclean"
                } else if n.online {
                    "online"
                } else {
                    "offline"
                }
                .to_string(),
                remote: n.is_remote(),
                standby: n.standby,
                maintenance: n.maintenance,
            }),
            nova: NovaView {
                state: svc.state.clone(),
                status: svc.status.clone(),
                forced_down: svc.forced_down,
                disabled_reason: svc.disabled_reason.clone(),
                updated_at: svc.updated_at.clone(),
            },
            evacuation: EvacuationView {
                phase: marker.as_ref().map(|m| m.phase.name().to_string()),
                since: marker
                    .as_ref()
                    .filter(|m| m.since > 0)
                    .map(|m| format_rfc3339(m.since)),
                by: marker.as_ref().map(|m| m.by.clone()),
                note: marker.as_ref().and_then(|m| m.note.clone()),
                attrd: attr,
                open,
            },
            progress: prog,
        });
    }
    let unmatched_nodes = nodes
        .iter()
        .filter(|n| n.is_remote() && !matched.contains(&n.name))
        .map(|n| n.name.clone())
        .collect();
    Ok(StatusView {
        time: format_rfc3339(now()),
        hosts: out,
        unmatched_nodes,
        warnings,
    })
}

pub fn render(v: &StatusView) -> String {
    let mut rows = vec![vec![
        "HOST".to_string(),
        "NODE".into(),
        "NOVA".into(),
        "EVACUATION".into(),
    ]];
    for h in &v.hosts {
        let node = match &h.node {
            Some(n) => {
                let mut s = n.state.clone();
                if n.remote {
                    s.push_str(" remote");
                }
                if n.standby {
                    s.push_str(" standby");
                }
                if n.maintenance {
                    s.push_str(" maintenance");
                }
                if n.name != h.host {
                    s = format!("{} ({s})", n.name);
                }
                s
            }
            None => "-".into(),
        };
        let mut nova = format!("{} {}", h.nova.state, h.nova.status);
        if h.nova.forced_down {
            nova.push_str(" forced_down");
        }
        let e = &h.evacuation;
        let mut ev = match &e.phase {
            Some(p) => {
                let mut s = p.clone();
                if let Some(t) = &e.since {
                    s.push_str(&format!(" since {t}"));
                    if let Some(secs) = parse_datetime(t) {
                        let ago = now().saturating_sub(secs);
                        s.push_str(&format!(
                            " ({} ago)",
                            if ago < 60 {
                                format!("{ago}s")
                            } else {
                                duration(ago as f64)
                            }
                        ));
                    }
                }
                if let Some(b) = e.by.as_deref().filter(|b| !b.is_empty()) {
                    s.push_str(&format!(" by {b}"));
                }
                if let Some(n) = &e.note {
                    s.push_str(&format!("; {n}"));
                }
                s
            }
            None if h.nova.status == "disabled" => format!(
                "disabled: {}",
                h.nova.disabled_reason.as_deref().unwrap_or("(no reason)")
            ),
            None => "-".into(),
        };
        if let Some(a) = &e.attrd {
            ev.push_str(&format!(" [attrd evacuate={a}]"));
        }
        rows.push(vec![h.host.clone(), node, nova, ev]);
    }
    let mut s = table(&rows);
    for h in &v.hosts {
        let Some(p) = &h.progress else { continue };
        s.push('\n');
        let counts: Vec<String> = p
            .migrations
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        s.push_str(&format!(
            "{}: {} instance(s) still on the host; evacuation migrations: {}\n",
            h.host,
            p.remaining,
            if counts.is_empty() {
                "none".to_string()
            } else {
                counts.join(", ")
            }
        ));
        if let Some(e) = &p.error {
            s.push_str(&format!("  (incomplete: {e})\n"));
        }
        if !p.instances.is_empty() {
            let mut rows = vec![vec![
                "  INSTANCE".to_string(),
                "NAME".into(),
                "ON HOST".into(),
                "MIGRATION".into(),
                "DEST".into(),
            ]];
            for i in &p.instances {
                let on = if i.on_host {
                    let mut s = i.status.clone().unwrap_or_default();
                    if let Some(t) = &i.task_state {
                        s.push_str(&format!("/{t}"));
                    }
                    s
                } else {
                    "moved".into()
                };
                rows.push(vec![
                    format!("  {}", i.id),
                    i.name.clone().unwrap_or_else(|| "-".into()),
                    on,
                    i.migration.clone().unwrap_or_else(|| "-".into()),
                    i.dest.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
            s.push_str(&table(&rows));
        }
    }
    if !v.unmatched_nodes.is_empty() {
        s.push_str(&format!(
            "\nremote nodes without a nova-compute service: {}\n",
            v.unmatched_nodes.join(", ")
        ));
    }
    for w in &v.warnings {
        s.push_str(&format!("warning: {w}\n"));
    }
    s
}

pub fn run(ctx: &Ctx, json: bool, watch: Option<u64>, iterations: Option<u64>) -> Result<i32> {
    let (nova, _) = ctx.connect()?;
    let Some(every) = watch else {
        let v = collect(ctx, &nova)?;
        if json {
            print_json(&v)?;
        } else {
            print!("{}", render(&v));
        }
        return Ok(0);
    };
    let mut n = 0u64;
    loop {
        // A transient Nova error is shown and the watch goes on.
        let text = match collect(ctx, &nova) {
            Ok(v) if json => serde_json::to_string(&v).unwrap_or_default() + "\n",
            Ok(v) => format!(
                "instance-ha status, every {every}s  {}\n\n{}",
                format_rfc3339(now()),
                render(&v)
            ),
            Err(e) => format!("{}: ERROR: {e}\n", format_rfc3339(now())),
        };
        let mut out = std::io::stdout().lock();
        // Clear the screen for people; JSON is one document per line.
        let clear = if json || !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            ""
        } else {
            "\x1b[H\x1b[2J"
        };
        if write!(out, "{clear}{text}")
            .and_then(|_| out.flush())
            .is_err()
        {
            return Ok(0); // stdout closed (| head)
        }
        drop(out);
        n += 1;
        if iterations.is_some_and(|i| n >= i) {
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_secs(every));
    }
}
