//! Cluster node names <-> Nova host names.
//!
//! Clusters often use short names (`compute-0`) while Nova registers FQDNs
//! (`compute-0.example.com`), or the other way round. The reference agent
//! guesses one DNS domain for every host and silently picks a wrong one
//! when there are several; here a name maps to exactly one Nova host or
//! the agent stops with the candidates listed.

use crate::error::{Error, Result};

pub fn short(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

/// Resolve cluster node `node` to one of Nova's `hosts`.
///
/// `domain` is fence_compute's `domain` parameter: `Some("")` means Nova
/// uses short names, `Some("example.com")` means Nova uses
/// `<short>.example.com`; `None` means find out from Nova's hosts.
pub fn resolve(node: &str, hosts: &[String], domain: Option<&str>) -> Result<String> {
    let node = node.trim();
    if node.is_empty() {
        return Err(Error::usage("empty host name"));
    }
    if let Some(h) = hosts.iter().find(|h| h.as_str() == node) {
        return Ok(h.clone());
    }
    if let Some(d) = domain {
        let want = if d.is_empty() {
            short(node).to_string()
        } else {
            format!("{}.{}", short(node), d.trim_start_matches('.'))
        };
        if let Some(h) = hosts.iter().find(|h| h.eq_ignore_ascii_case(&want)) {
            return Ok(h.clone());
        }
        return Err(Error::NotFound(format!(
            "no nova-compute service for host '{want}' (from node '{node}' and domain '{d}'); Nova has: {}",
            list(hosts)
        )));
    }
    if let Some(h) = hosts.iter().find(|h| h.eq_ignore_ascii_case(node)) {
        return Ok(h.clone());
    }
    let candidates: Vec<&String> = hosts
        .iter()
        .filter(|h| short(h).eq_ignore_ascii_case(short(node)))
        .collect();
    match candidates.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::NotFound(format!(
            "no nova-compute service for host '{node}'; Nova has: {}",
            list(hosts)
        ))),
        many => Err(Error::Ambiguous(format!(
            "node '{node}' matches several Nova hosts: {}; set the domain parameter to choose",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn list(hosts: &[String]) -> String {
    if hosts.is_empty() {
        return "no nova-compute services at all".into();
    }
    let mut v: Vec<&str> = hosts.iter().map(String::as_str).collect();
    v.sort_unstable();
    if v.len() > 20 {
        format!("{} and {} more", v[..20].join(", "), v.len() - 20)
    } else {
        v.join(", ")
    }
}

/// `list` output of the reference: every host under its Nova name and its
/// short name, without duplicates.
pub fn plugs(hosts: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for h in hosts {
        for n in [h.as_str(), short(h)] {
            if !out.iter().any(|o| o == n) {
                out.push(n.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exact_short_and_fqdn() {
        let h = hosts(&["compute-0.example.com", "compute-1.example.com"]);
        assert_eq!(
            resolve("compute-0", &h, None).unwrap(),
            "compute-0.example.com"
        );
        assert_eq!(
            resolve("compute-1.example.com", &h, None).unwrap(),
            "compute-1.example.com"
        );
        let h = hosts(&["compute-0", "compute-1"]);
        assert_eq!(
            resolve("compute-0.lab.local", &h, None).unwrap(),
            "compute-0"
        );
    }

    #[test]
    fn ambiguous_is_an_error_and_domain_decides() {
        let h = hosts(&["compute-0.a.com", "compute-0.b.com"]);
        let e = resolve("compute-0", &h, None).unwrap_err();
        assert!(matches!(e, Error::Ambiguous(_)));
        assert!(e.to_string().contains("compute-0.a.com"));
        assert_eq!(
            resolve("compute-0", &h, Some("b.com")).unwrap(),
            "compute-0.b.com"
        );
        assert_eq!(
            resolve("compute-0.a.com", &hosts(&["compute-0"]), Some("")).unwrap(),
            "compute-0"
        );
    }

    #[test]
    fn unknown_host() {
        let e = resolve("compute-9", &hosts(&["compute-0"]), None).unwrap_err();
        assert!(matches!(e, Error::NotFound(_)));
        assert!(e.to_string().contains("compute-0"));
    }

    #[test]
    fn plug_list() {
        assert_eq!(plugs(&hosts(&["c0.x", "c1"])), vec!["c0.x", "c0", "c1"]);
    }
}
