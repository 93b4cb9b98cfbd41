//! `instance-ha check`: the configuration end to end, each finding with a
//! severity and what to do about it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::cib::{Cib, Primitive};
use super::{print_json, Ctx};
use crate::error::Result;
use crate::hostmap;
use crate::openstack::{Microversion, Nova, Session};
use crate::pacemaker::cluster::{self, Node};
use crate::pacemaker::command::run as run_cmd;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Note,
    Warn,
    Error,
}

#[derive(Debug, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub check: &'static str,
    pub message: String,
    pub fix: Option<String>,
}

#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn add(
        &mut self,
        severity: Severity,
        check: &'static str,
        message: impl Into<String>,
        fix: Option<String>,
    ) {
        self.0.push(Finding {
            severity,
            check,
            message: message.into(),
            fix,
        });
    }
    fn ok(&mut self, check: &'static str, m: impl Into<String>) {
        self.add(Severity::Ok, check, m, None);
    }
    fn note(&mut self, check: &'static str, m: impl Into<String>) {
        self.add(Severity::Note, check, m, None);
    }
    fn warn(&mut self, check: &'static str, m: impl Into<String>, fix: impl Into<String>) {
        self.add(Severity::Warn, check, m, Some(fix.into()));
    }
    fn error(&mut self, check: &'static str, m: impl Into<String>, fix: impl Into<String>) {
        self.add(Severity::Error, check, m, Some(fix.into()));
    }
}

/// Stonith agents that do not cut a host's power.
const NOT_POWER: &[&str] = &[
    "fence_compute",
    "fence_evacuate",
    "fence_kdump",
    "fence_dummy",
];

fn nova_checks(ctx: &Ctx, f: &mut Findings) -> Option<Vec<String>> {
    let cfg = match ctx.cloud_config() {
        Ok(c) => c,
        Err(e) => {
            f.error("credentials", format!("no usable credentials ({}): {e}", ctx.source), "pass --cloud NAME, set OS_CLOUD or OS_AUTH_URL/OS_USERNAME/OS_PASSWORD/OS_PROJECT_NAME, or use --from-cib on a cluster node");
            return None;
        }
    };
    let who = cfg
        .username
        .clone()
        .or(cfg.user_id.clone())
        .or(cfg
            .application_credential_id
            .clone()
            .map(|i| format!("application credential {i}")))
        .unwrap_or_default();
    let auth_url = cfg.auth_url.clone().unwrap_or_default();
    let session = match Session::new(cfg) {
        Ok(s) => std::sync::Arc::new(s),
        Err(e) => {
            f.error(
                "credentials",
                format!("{}: {e}", ctx.source),
                "fix the cloud configuration",
            );
            return None;
        }
    };
    let nova = Nova::new(session);
    let range = match nova.versions() {
        Ok(r) => r,
        Err(e) => {
            f.error("nova", format!("Keystone/Nova not usable with {} ({who} at {auth_url}): {e}", ctx.source), "check the credentials, the endpoint type (internal/public) and that Keystone and nova-api answer from this node");
            return None;
        }
    };
    let services = match nova.compute_services(None) {
        Ok(s) => s,
        Err(e) => {
            f.error(
                "nova",
                format!("cannot list nova-compute services: {e}"),
                "the user needs the admin role (os-services is an admin API)",
            );
            return None;
        }
    };
    f.ok(
        "credentials",
        format!(
            "authenticated as {who} at {auth_url} ({}); {} nova-compute services",
            ctx.source,
            services.len()
        ),
    );
    let mv = |a, b| Microversion::new(a, b);
    f.ok(
        "nova",
        format!("Nova microversions {} to {}", range.min, range.max),
    );
    if range.max < mv(2, 11) {
        f.warn("nova", format!("Nova's maximum microversion {} is below 2.11: no forced_down, so a fenced host only counts as down after service_down_time", range.max), "upgrade Nova; evacuations wait for Nova to notice the host down");
    }
    if range.max < mv(2, 14) {
        f.warn("nova", "below microversion 2.14 every evacuation must say whether storage is shared, and a wrong answer puts instances in ERROR", "set no_shared_storage to match the computes' instance storage");
    }
    if range.max >= mv(2, 53) {
        f.note("nova", "2.53+: services are updated by id (PUT /os-services/{id}); forced_down and the disabled_reason markers go in one request");
    } else {
        f.note(
            "nova",
            "below 2.53: services are updated through the legacy force-down/disable endpoints",
        );
    }
    if range.max >= mv(2, 59) {
        f.note(
            "nova",
            "2.59+: evacuation migration records are listed with uuids and paging",
        );
    }
    if range.max >= mv(2, 95) {
        f.note(
            "nova",
            "2.95+: evacuated instances arrive SHUTOFF; instance-ha starts those that were ACTIVE",
        );
    }
    let mut hosts: Vec<String> = services.into_iter().map(|s| s.host).collect();
    hosts.sort();
    Some(hosts)
}

fn is_power(p: &Primitive) -> bool {
    p.is_stonith() && !NOT_POWER.contains(&p.kind.as_str())
}

fn fencing_checks(cib: &Cib, computes: &[String], f: &mut Findings) {
    if cib.property("stonith-enabled").is_some_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "false" | "no" | "0" | "off"
        )
    }) {
        f.error(
            "fencing",
            "stonith-enabled=false: failed computes are never fenced, so never evacuated",
            "pcs property set stonith-enabled=true",
        );
    }
    let fcs: Vec<&Primitive> = cib
        .by_type("fence_compute")
        .into_iter()
        .filter(|p| p.is_stonith())
        .collect();
    if fcs.is_empty() {
        f.error("fencing", "no fence_compute stonith device: Nova is never told a fenced host is down", "pcs stonith create fence-nova fence_compute auth_url=... username=... password_script=... tenant_name=... meta provides=unfencing");
    }
    for d in &fcs {
        if d.meta("provides") == Some("unfencing") {
            f.ok(
                "fencing",
                format!("fence_compute device {} has provides=unfencing", d.id),
            );
        } else {
            f.error(
                "fencing",
                format!("fence_compute device {} lacks meta provides=unfencing: a returning host is never put back in service (and nova-compute may start mid-evacuation)", d.id),
                format!("pcs stonith update {} meta provides=unfencing", d.id),
            );
        }
    }
    let power_hint = cib
        .primitives
        .iter()
        .find(|p| is_power(p))
        .map(|p| p.id.as_str())
        .unwrap_or("<power-device>");
    let fc_hint = fcs.first().map(|p| p.id.as_str()).unwrap_or("fence-nova");
    for node in computes {
        let levels = cib.levels_for(node);
        if levels.is_empty() {
            f.error("fencing", format!("{node}: no fencing level: fencing it neither cuts power in a known order nor tells Nova"), format!("pcs stonith level add 1 {node} {power_hint},{fc_hint}"));
            continue;
        }
        let mut good = true;
        for l in &levels {
            let devs: Vec<Option<&Primitive>> = l.devices.iter().map(|d| cib.device(d)).collect();
            for (id, d) in l.devices.iter().zip(&devs) {
                if d.is_none() {
                    good = false;
                    f.error(
                        "fencing",
                        format!(
                            "{node}: level {} names device {id}, which is not a stonith resource",
                            l.index
                        ),
                        format!("create {id} or fix the level's device list"),
                    );
                }
            }
            let fc_pos = devs
                .iter()
                .position(|d| d.is_some_and(|d| d.kind == "fence_compute"));
            let power_pos = devs.iter().position(|d| d.is_some_and(is_power));
            if fc_pos.is_none() {
                good = false;
                f.error(
                    "fencing",
                    format!("{node}: level {} ({}) has no fence_compute: when it succeeds Nova is not told and nothing is evacuated", l.index, l.devices.join(",")),
                    format!("pcs stonith level delete {} {node}; pcs stonith level add {} {node} {},{fc_hint}", l.index, l.index, l.devices.join(",")),
                );
            }
            if power_pos.is_none() {
                good = false;
                f.error(
                    "fencing",
                    format!("{node}: level {} ({}) has no power fence device: the host could still run its instances while they are rebuilt elsewhere", l.index, l.devices.join(",")),
                    format!("put the node's IPMI/Redfish device first in the level: pcs stonith level add {} {node} {power_hint},{fc_hint}", l.index),
                );
            }
            if let (Some(a), Some(b)) = (fc_pos, power_pos) {
                if a < b {
                    f.warn("fencing", format!("{node}: level {} runs fence_compute before the power device", l.index), "list the power device first so Nova is only told once the host is really off");
                }
            }
        }
        if good {
            let l = levels[0];
            f.ok(
                "fencing",
                format!("{node}: level {} = {}", l.index, l.devices.join(" + ")),
            );
        }
    }
}

fn resource_checks(
    cib: &Cib,
    crm_mon: Option<&str>,
    nodes: &[Node],
    computes: &[String],
    f: &mut Findings,
) {
    let ne: Vec<&Primitive> = cib
        .by_type("NovaEvacuate")
        .into_iter()
        .filter(|p| p.class == "ocf")
        .collect();
    match ne.as_slice() {
        [] => f.error("resources", "no NovaEvacuate resource: fenced hosts are recorded but never evacuated", "pcs resource create nova-evacuate ocf:openstack:NovaEvacuate auth_url=... username=... password_script=... tenant_name=..."),
        [p] if p.clone.is_some() => f.error("resources", format!("NovaEvacuate {} is cloned: it must run once", p.id), "make it a primitive (pcs resource unclone)"),
        [p] => f.ok("resources", format!("NovaEvacuate configured ({} {})", p.agent(), p.id)),
        many => f.warn("resources", format!("{} NovaEvacuate resources: {}", many.len(), many.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")), "keep one"),
    }
    let ncw: Vec<&Primitive> = cib
        .by_type("nova-compute-wait")
        .into_iter()
        .filter(|p| p.class == "ocf")
        .collect();
    let Some(w) = ncw.first() else {
        f.error("resources", "no nova-compute-wait resource: nova-compute can start on a returning host while its instances are being evacuated", "pcs resource create nova-compute-wait ocf:openstack:nova-compute-wait --clone, constrained to the compute nodes");
        return;
    };
    let Some(clone) = &w.clone else {
        f.error(
            "resources",
            format!(
                "nova-compute-wait {} is not cloned: it must run on every compute node",
                w.id
            ),
            format!("pcs resource clone {}", w.id),
        );
        return;
    };
    f.ok("resources", format!("nova-compute-wait cloned ({clone})"));
    // Where it runs now (crm_mon), against the online compute nodes.
    let Some(text) = crm_mon else { return };
    let mut running: Vec<String> = Vec::new();
    let doc = super::cib::parse(text).unwrap_or_default();
    for r in doc.all("resource") {
        let agent = r.attr("resource_agent").unwrap_or("");
        if agent.ends_with(":nova-compute-wait") && r.attr("role") == Some("Started") {
            running.extend(
                r.all("node")
                    .iter()
                    .filter_map(|n| n.attr("name"))
                    .map(str::to_string),
            );
        }
    }
    for c in computes {
        let online = nodes.iter().any(|n| &n.name == c && n.online);
        if online && !running.contains(c) {
            f.warn("resources", format!("{c} is online but nova-compute-wait does not run there"), format!("check constraints and failures: pcs resource status {clone}; crm_resource --why -r {clone} -N {c}"));
        }
    }
}

pub fn collect(ctx: &Ctx) -> Vec<Finding> {
    let mut f = Findings::default();
    let hosts = nova_checks(ctx, &mut f);
    let crm_mon = match run_cmd(
        "crm_mon",
        &["-1", "--output-as=xml"],
        Duration::from_secs(20),
    ) {
        Ok(o) if o.code == 0 => Some(o.stdout),
        Ok(o) => {
            f.error(
                "cluster",
                format!("crm_mon failed (exit {}): {}", o.code, o.stderr.trim()),
                "run on a cluster node with Pacemaker running",
            );
            None
        }
        Err(e) => {
            f.error(
                "cluster",
                format!("cannot read the cluster state: {e}"),
                "run on a cluster node (crm_mon, cibadmin)",
            );
            None
        }
    };
    let nodes = crm_mon
        .as_deref()
        .map(cluster::parse_nodes)
        .unwrap_or_default();
    let cib = match Cib::query() {
        Ok(c) => Some(c),
        Err(e) => {
            f.error(
                "cluster",
                format!("cannot read the CIB: {e}"),
                "run on a cluster node as root or hacluster (cibadmin -Q)",
            );
            None
        }
    };
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    // Compute hosts <-> cluster nodes, both ways, exactly one each.
    let mut computes: Vec<String> = Vec::new();
    if let (Some(hosts), Some(_)) = (&hosts, &crm_mon) {
        let mut by_node: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for h in hosts {
            match hostmap::resolve(h, &names, None) {
                Ok(n) => by_node.entry(n).or_default().push(h.clone()),
                Err(crate::Error::Ambiguous(m)) => f.error(
                    "hosts",
                    format!("Nova host {h}: {m}"),
                    "give the cluster nodes names that map to one Nova host each (or set domain)",
                ),
                Err(_) => f.error(
                    "hosts",
                    format!(
                        "Nova host {h} is no cluster node: it is never fenced, so never evacuated"
                    ),
                    format!("add it as a pacemaker_remote node: pcs cluster node add-remote {h}"),
                ),
            }
        }
        for (n, hs) in &by_node {
            if hs.len() > 1 {
                f.error(
                    "hosts",
                    format!(
                        "cluster node {n} matches several Nova hosts: {}",
                        hs.join(", ")
                    ),
                    "set the domain parameter of fence_compute and NovaEvacuate",
                );
            } else {
                computes.push(n.clone());
            }
        }
        for n in nodes
            .iter()
            .filter(|n| n.is_remote() && !by_node.contains_key(&n.name))
        {
            match hostmap::resolve(&n.name, hosts, ctx.domain().as_deref()) {
                Ok(h) => f.warn(
                    "hosts",
                    format!(
                        "remote node {} maps to Nova host {h} only through the domain setting",
                        n.name
                    ),
                    "fine if intended; name mapping is exact otherwise",
                ),
                Err(e) => f.warn(
                    "hosts",
                    format!("remote node {} has no nova-compute service: {e}", n.name),
                    "if it is a compute, check nova-compute's host name (nova.conf [DEFAULT] host)",
                ),
            }
        }
        if !computes.is_empty()
            && f.0
                .iter()
                .all(|x| x.check != "hosts" || x.severity < Severity::Warn)
        {
            f.ok(
                "hosts",
                format!(
                    "{} compute hosts map one to one to cluster nodes: {}",
                    computes.len(),
                    computes.join(", ")
                ),
            );
        }
    } else if crm_mon.is_some() {
        // No Nova: take the remote nodes as the computes.
        computes = nodes
            .iter()
            .filter(|n| n.is_remote())
            .map(|n| n.name.clone())
            .collect();
    }
    if let Some(cib) = &cib {
        fencing_checks(cib, &computes, &mut f);
        resource_checks(cib, crm_mon.as_deref(), &nodes, &computes, &mut f);
    }
    f.0
}

pub fn render(findings: &[Finding]) -> String {
    let mut s = String::new();
    for x in findings {
        let sev = match x.severity {
            Severity::Ok => "ok",
            Severity::Note => "note",
            Severity::Warn => "WARN",
            Severity::Error => "ERROR",
        };
        s.push_str(&format!("{sev:<5} {:<11} {}\n", x.check, x.message));
        if let Some(fix) = &x.fix {
            s.push_str(&format!("{:<17} -> {fix}\n", ""));
        }
    }
    let errors = findings
        .iter()
        .filter(|x| x.severity == Severity::Error)
        .count();
    let warns = findings
        .iter()
        .filter(|x| x.severity == Severity::Warn)
        .count();
    s.push_str(&format!("\n{errors} error(s), {warns} warning(s)\n"));
    s
}

pub fn run(ctx: &Ctx, json: bool) -> Result<i32> {
    let findings = collect(ctx);
    let errors = findings
        .iter()
        .filter(|x| x.severity == Severity::Error)
        .count();
    if json {
        print_json(
            &serde_json::json!({ "findings": findings, "errors": errors, "warnings": findings.iter().filter(|x| x.severity == Severity::Warn).count() }),
        )?;
    } else {
        print!("{}", render(&findings));
    }
    Ok(if errors == 0 { 0 } else { 1 })
}
