//! The parts of the CIB the operator command needs: the instance-HA
//! resources and their parameters, stonith devices, fencing topology,
//! node attributes and cluster properties. Read with `cibadmin -Q`
//! (a read-only query, works on any cluster node).
//!
//! The CIB is machine-written XML without CDATA or DTD tricks; a small
//! tree parser over `crate::xml::attributes` is enough.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::pacemaker::command::run;

/// An XML element with its attributes and child elements (text dropped).
#[derive(Debug, Clone, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
}

impl Element {
    pub fn attr(&self, k: &str) -> Option<&str> {
        crate::xml::attr(&self.attrs, k)
    }
    /// Every descendant named `name`, depth first.
    pub fn descendants<'a>(&'a self, name: &str, out: &mut Vec<&'a Element>) {
        for c in &self.children {
            if c.name == name {
                out.push(c);
            }
            c.descendants(name, out);
        }
    }
    pub fn all(&self, name: &str) -> Vec<&Element> {
        let mut v = Vec::new();
        self.descendants(name, &mut v);
        v
    }
    pub fn first(&self, name: &str) -> Option<&Element> {
        self.all(name).into_iter().next()
    }
    /// `name=value` pairs of the `nvpair`s under child sets named `set`
    /// (`instance_attributes`, `meta_attributes`); the first wins.
    pub fn nvpairs(&self, set: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for s in self.children.iter().filter(|c| c.name == set) {
            for nv in s.all("nvpair") {
                if let (Some(n), Some(v)) = (nv.attr("name"), nv.attr("value")) {
                    if !out.iter().any(|(k, _)| k == n) {
                        out.push((n.to_string(), v.to_string()));
                    }
                }
            }
        }
        out
    }
}

/// Parse `text` into a tree under a synthetic `#document` root.
pub fn parse(text: &str) -> Result<Element> {
    let bad = |m: &str| Error::BadResponse {
        service: "cib".into(),
        message: m.to_string(),
    };
    let mut stack: Vec<Element> = vec![Element {
        name: "#document".into(),
        ..Element::default()
    }];
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("<!--") {
            let end = r.find("-->").ok_or_else(|| bad("unterminated comment"))?;
            rest = &r[end + 3..];
            continue;
        }
        if rest.starts_with("<?") || rest.starts_with("<!") {
            let end = rest
                .find('>')
                .ok_or_else(|| bad("unterminated declaration"))?;
            rest = &rest[end + 1..];
            continue;
        }
        // Find the closing '>' outside quotes.
        let bytes = rest.as_bytes();
        let mut q: Option<u8> = None;
        let mut end = None;
        for (j, &b) in bytes.iter().enumerate().skip(1) {
            match q {
                Some(c) if b == c => q = None,
                Some(_) => {}
                None if b == b'"' || b == b'\'' => q = Some(b),
                None if b == b'>' => {
                    end = Some(j);
                    break;
                }
                None => {}
            }
        }
        let end = end.ok_or_else(|| bad("unterminated tag"))?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim();
            let el = stack.pop().ok_or_else(|| bad("unbalanced tags"))?;
            if el.name != name || stack.is_empty() {
                return Err(bad(&format!("</{name}> closes <{}>", el.name)));
            }
            stack.last_mut().expect("non-empty").children.push(el);
            continue;
        }
        let self_closing = tag.trim_end().ends_with('/');
        let tag = tag.trim_end().trim_end_matches('/');
        let name_end = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
        let el = Element {
            name: tag[..name_end].to_string(),
            attrs: crate::xml::attributes(&tag[name_end..]),
            children: Vec::new(),
        };
        if self_closing {
            stack.last_mut().expect("non-empty").children.push(el);
        } else {
            stack.push(el);
        }
    }
    if stack.len() != 1 {
        return Err(bad(&format!(
            "<{}> is not closed",
            stack.last().map(|e| e.name.as_str()).unwrap_or("?")
        )));
    }
    Ok(stack.pop().expect("root"))
}

/// A primitive resource or stonith device.
#[derive(Debug, Clone)]
pub struct Primitive {
    pub id: String,
    pub class: String,
    pub provider: String,
    pub kind: String,
    pub params: Vec<(String, String)>,
    /// Its own meta attributes, then those of its clone/group.
    pub meta: Vec<(String, String)>,
    /// The clone it belongs to (directly or through a group).
    pub clone: Option<String>,
}

impl Primitive {
    pub fn param(&self, k: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
    pub fn meta(&self, k: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
    pub fn is_stonith(&self) -> bool {
        self.class == "stonith"
    }
    /// `ocf:openstack:NovaEvacuate`, `stonith:fence_compute`.
    pub fn agent(&self) -> String {
        if self.provider.is_empty() {
            format!("{}:{}", self.class, self.kind)
        } else {
            format!("{}:{}:{}", self.class, self.provider, self.kind)
        }
    }
}

/// A fencing level.
#[derive(Debug, Clone)]
pub struct Level {
    pub index: u32,
    pub target: Option<String>,
    pub target_pattern: Option<String>,
    pub target_attribute: Option<(String, String)>,
    pub devices: Vec<String>,
}

/// A node entry of the configuration, with its permanent attributes.
#[derive(Debug, Clone)]
pub struct CibNode {
    pub uname: String,
    pub kind: String,
    pub attrs: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct Cib {
    pub primitives: Vec<Primitive>,
    pub levels: Vec<Level>,
    pub nodes: Vec<CibNode>,
    pub properties: Vec<(String, String)>,
}

fn walk(el: &Element, clone: Option<(&str, &[(String, String)])>, out: &mut Vec<Primitive>) {
    for c in &el.children {
        match c.name.as_str() {
            "primitive" => {
                let mut meta = c.nvpairs("meta_attributes");
                if let Some((_, m)) = clone {
                    for kv in m {
                        if !meta.iter().any(|(k, _)| k == &kv.0) {
                            meta.push(kv.clone());
                        }
                    }
                }
                out.push(Primitive {
                    id: c.attr("id").unwrap_or("").to_string(),
                    class: c.attr("class").unwrap_or("").to_string(),
                    provider: c.attr("provider").unwrap_or("").to_string(),
                    kind: c.attr("type").unwrap_or("").to_string(),
                    params: c.nvpairs("instance_attributes"),
                    meta,
                    clone: clone.map(|(id, _)| id.to_string()),
                });
            }
            "clone" | "master" => {
                let meta = c.nvpairs("meta_attributes");
                walk(c, Some((c.attr("id").unwrap_or(""), &meta)), out);
            }
            "group" | "bundle" => walk(c, clone, out),
            _ => {}
        }
    }
}

impl Cib {
    pub fn from_xml(text: &str) -> Result<Cib> {
        let doc = parse(text)?;
        let mut cib = Cib::default();
        if let Some(res) = doc.first("resources") {
            walk(res, None, &mut cib.primitives);
        }
        for l in doc.all("fencing-level") {
            let target_attribute = match (l.attr("target-attribute"), l.attr("target-value")) {
                (Some(a), Some(v)) => Some((a.to_string(), v.to_string())),
                _ => None,
            };
            cib.levels.push(Level {
                index: l.attr("index").and_then(|i| i.parse().ok()).unwrap_or(0),
                target: l.attr("target").map(str::to_string),
                target_pattern: l.attr("target-pattern").map(str::to_string),
                target_attribute,
                devices: l
                    .attr("devices")
                    .unwrap_or("")
                    .split(',')
                    .map(|d| d.trim().to_string())
                    .filter(|d| !d.is_empty())
                    .collect(),
            });
        }
        cib.levels.sort_by_key(|l| l.index);
        if let Some(nodes) = doc
            .first("configuration")
            .and_then(|c| c.children.iter().find(|n| n.name == "nodes"))
        {
            for n in nodes.children.iter().filter(|n| n.name == "node") {
                cib.nodes.push(CibNode {
                    uname: n.attr("uname").or(n.attr("id")).unwrap_or("").to_string(),
                    kind: n.attr("type").unwrap_or("member").to_string(),
                    attrs: n.nvpairs("instance_attributes"),
                });
            }
        }
        if let Some(cfg) = doc.first("crm_config") {
            cib.properties = cfg.nvpairs("cluster_property_set");
        }
        Ok(cib)
    }

    /// The whole CIB from `cibadmin -Q`.
    pub fn query() -> Result<Cib> {
        let out = run("cibadmin", &["-Q"], Duration::from_secs(30))?;
        if out.code != 0 {
            return Err(Error::Command {
                command: "cibadmin -Q".into(),
                message: format!("exit {}: {}", out.code, out.stderr.trim()),
            });
        }
        Cib::from_xml(&out.stdout)
    }

    pub fn by_type(&self, kind: &str) -> Vec<&Primitive> {
        self.primitives.iter().filter(|p| p.kind == kind).collect()
    }

    pub fn device(&self, id: &str) -> Option<&Primitive> {
        self.primitives
            .iter()
            .find(|p| p.id == id && p.is_stonith())
    }

    pub fn property(&self, k: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    /// The levels that apply to `node`.
    pub fn levels_for(&self, node: &str) -> Vec<&Level> {
        self.levels
            .iter()
            .filter(|l| {
                if let Some(t) = &l.target {
                    return t == node;
                }
                if let Some(p) = &l.target_pattern {
                    return regex_match(p, node);
                }
                if let Some((a, v)) = &l.target_attribute {
                    return self
                        .nodes
                        .iter()
                        .any(|n| n.uname == node && n.attrs.iter().any(|(k, x)| k == a && x == v));
                }
                false
            })
            .collect()
    }
}

/// Does POSIX extended regex `pattern` match somewhere in `s`, as
/// Pacemaker's `target-pattern` (regcomp REG_EXTENDED, unanchored)? Uses
/// awk, whose `~` is exactly that, rather than a regex engine of our own.
pub fn regex_match(pattern: &str, s: &str) -> bool {
    run(
        "awk",
        &[
            "-v",
            &format!("s={}", awk_escape(s)),
            "-v",
            &format!("p={}", awk_escape(pattern)),
            "BEGIN { exit !(s ~ p) }",
        ],
        Duration::from_secs(5),
    )
    .map(|o| o.code == 0)
    .unwrap_or(false)
}

/// `awk -v` processes backslash escapes: double them.
fn awk_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
}

/// The value of a parameter that `cibsecret` moved out of the CIB
/// (`lrm://`): Pacemaker keeps it in /var/lib/pacemaker/lrm/secrets.
pub fn secret_value(rsc: &str, name: &str, value: &str) -> Option<String> {
    if value != "lrm://" {
        return Some(value.to_string());
    }
    let dir = std::env::var("IHA_CIBSECRET_DIR")
        .unwrap_or_else(|_| "/var/lib/pacemaker/lrm/secrets".into());
    std::fs::read_to_string(std::path::Path::new(&dir).join(rsc).join(name))
        .ok()
        .map(|s| s.trim_end_matches('\n').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIB: &str = r#"<?xml version="1.0"?>
<cib><configuration>
 <crm_config><cluster_property_set id="p"><nvpair id="a" name="stonith-enabled" value="true"/></cluster_property_set></crm_config>
 <nodes><node id="1" uname="ctl1"/><node id="compute-0" uname="compute-0" type="remote"><instance_attributes id="x"><nvpair id="y" name="role" value="compute"/></instance_attributes></node></nodes>
 <resources>
  <!-- a comment with <tags> -->
  <primitive id="fence-nova" class="stonith" type="fence_compute">
   <instance_attributes id="i"><nvpair id="i1" name="auth_url" value="http://k/v3"/><nvpair id="i2" name="password" value="a&gt;b"/></instance_attributes>
   <meta_attributes id="m"><nvpair id="m1" name="provides" value="unfencing"/></meta_attributes>
  </primitive>
  <clone id="ncw-clone"><meta_attributes id="cm"><nvpair id="c1" name="interleave" value="true"/></meta_attributes>
   <primitive id="ncw" class="ocf" provider="openstack" type="nova-compute-wait"/></clone>
 </resources>
 <constraints/>
 <fencing-topology><fencing-level id="l1" index="1" target="compute-0" devices="ipmi-c0,fence-nova"/>
  <fencing-level id="l2" index="2" target-attribute="role" target-value="compute" devices="x"/></fencing-topology>
</configuration><status/></cib>"#;

    #[test]
    fn reads_the_cib() {
        let c = Cib::from_xml(CIB).unwrap();
        assert_eq!(c.primitives.len(), 2);
        let f = c.by_type("fence_compute")[0];
        assert_eq!(f.param("password"), Some("a>b"));
        assert_eq!(f.meta("provides"), Some("unfencing"));
        assert_eq!(f.agent(), "stonith:fence_compute");
        let w = c.by_type("nova-compute-wait")[0];
        assert_eq!(w.clone.as_deref(), Some("ncw-clone"));
        assert_eq!(w.meta("interleave"), Some("true"));
        assert_eq!(c.levels_for("compute-0").len(), 2);
        assert_eq!(
            c.levels_for("compute-0")[0].devices,
            vec!["ipmi-c0", "fence-nova"]
        );
        assert_eq!(c.property("stonith-enabled"), Some("true"));
        assert!(parse("<a><b></a>").is_err());
    }

    #[test]
    fn target_pattern_is_an_ere() {
        assert!(regex_match("^compute-[0-9]+$", "compute-12"));
        assert!(!regex_match("^compute-[0-9]+$", "ctl1"));
        assert!(regex_match("comp", "xcompute"));
    }
}
