//! Cluster status (`crm_mon --output-as=xml`) and fencing history
//! (`stonith_admin --history`).

use std::time::Duration;

use super::command::run;
use crate::error::{Error, Result};
use crate::xml;

const TIMEOUT: Duration = Duration::from_secs(20);

/// A node as crm_mon shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub online: bool,
    /// `member`, `remote` or `ping`.
    pub kind: String,
    pub unclean: bool,
    pub standby: bool,
    pub maintenance: bool,
}

impl Node {
    pub fn is_remote(&self) -> bool {
        self.kind == "remote"
    }
}

pub fn parse_nodes(xml_text: &str) -> Vec<Node> {
    let flag = |a: &[(String, String)], k: &str| xml::attr(a, k) == Some("true");
    xml::elements(xml_text, "node")
        .into_iter()
        .filter_map(|a| {
            // <node> inside <node_attributes>/<node_history> carry only a name.
            xml::attr(&a, "online")?;
            Some(Node {
                name: xml::attr(&a, "name")?.to_string(),
                online: flag(&a, "online"),
                kind: xml::attr(&a, "type").unwrap_or("member").to_string(),
                unclean: flag(&a, "unclean"),
                standby: flag(&a, "standby"),
                maintenance: flag(&a, "maintenance"),
            })
        })
        .collect()
}

/// All nodes, cluster members and remotes.
pub fn nodes() -> Result<Vec<Node>> {
    let out = run("crm_mon", &["-1", "--output-as=xml"], TIMEOUT)?;
    if out.code != 0 {
        return Err(Error::Command {
            command: "crm_mon -1 --output-as=xml".into(),
            message: format!("exit {}: {}", out.code, out.stderr.trim()),
        });
    }
    Ok(parse_nodes(&out.stdout))
}

/// One completed or pending fencing operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FenceEvent {
    pub target: String,
    pub action: String,
    /// `success`, `failed`, `pending`.
    pub status: String,
    /// Seconds since the epoch, when completed.
    pub completed: Option<u64>,
}

pub fn parse_history(xml_text: &str) -> Vec<FenceEvent> {
    xml::elements(xml_text, "fence_event")
        .into_iter()
        .filter_map(|a| {
            Some(FenceEvent {
                target: xml::attr(&a, "target")?.to_string(),
                action: xml::attr(&a, "action").unwrap_or("").to_string(),
                status: xml::attr(&a, "status").unwrap_or("").to_string(),
                completed: xml::attr(&a, "completed").and_then(crate::time::parse_datetime),
            })
        })
        .collect()
}

/// Fencing history of `node` (all nodes when `None`).
pub fn fence_history(node: Option<&str>) -> Result<Vec<FenceEvent>> {
    let target = node.unwrap_or("*");
    // Without --verbose, Pacemaker 2.1.5 lists one event per target, and
    // not the newest: a node fenced twice looked never fenced again.
    let out = run(
        "stonith_admin",
        &["--history", target, "--verbose", "--output-as=xml"],
        TIMEOUT,
    )?;
    if out.code != 0 {
        return Err(Error::Command {
            command: format!("stonith_admin --history {target} --verbose"),
            message: format!("exit {}: {}", out.code, out.stderr.trim()),
        });
    }
    Ok(parse_history(&out.stdout))
}

/// The time of the last successful fencing (off or reboot) of `node`.
pub fn last_fenced(events: &[FenceEvent], node: &str) -> Option<u64> {
    events
        .iter()
        .filter(|e| {
            e.target == node && e.status == "success" && (e.action == "off" || e.action == "reboot")
        })
        .filter_map(|e| e.completed)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_from_crm_mon() {
        let x = r#"<pacemaker-result><nodes>
  <node name="ctl1" id="1" online="true" standby="false" maintenance="false" unclean="false" type="member"/>
  <node name="compute-0" id="compute-0" online="false" standby="false" maintenance="false" unclean="true" type="remote"/>
</nodes><node_attributes><node name="ctl1"><attribute name="x" value="1"/></node></node_attributes></pacemaker-result>"#;
        let n = parse_nodes(x);
        assert_eq!(n.len(), 2);
        assert!(n[0].online && !n[0].is_remote());
        assert!(n[1].is_remote() && n[1].unclean && !n[1].online);
    }

    #[test]
    fn history() {
        let x = r#"<fence_history status="0"><fence_event action="reboot" target="compute-0" client="stonith_admin" origin="ctl1" delegate="ctl1" status="success" completed="2026-11-21 20:47:27Z"/></fence_history>"#;
        let h = parse_history(x);
        assert_eq!(h.len(), 1);
        assert_eq!(
            last_fenced(&h, "compute-0"),
            crate::time::parse_datetime("2026-11-21T20:47:27Z")
        );
        assert!(last_fenced(&h, "compute-1").is_none());
    }
}
