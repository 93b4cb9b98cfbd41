//! The `evacuate` node attribute, exactly as the reference agents use it:
//! `attrd_updater -p -n evacuate -N <host> -U yes|no|<node>@<epoch>`.
//!
//! attrd keeps private (`-p`) attributes in memory only, and wipes all of
//! a pacemaker_remote node's attributes when its connection drops and
//! again when it comes back: this is a fast signal between agents, never
//! the only record (see `crate::state`).

use std::time::Duration;

use super::command::run;
use crate::error::{Error, Result};
use crate::xml;

pub const EVACUATE: &str = "evacuate";
const TIMEOUT: Duration = Duration::from_secs(15);

/// Set `name` for `node` (private, not written to the CIB).
pub fn set(node: &str, name: &str, value: &str) -> Result<()> {
    let out = run(
        "attrd_updater",
        &["-p", "-n", name, "-N", node, "-U", value],
        TIMEOUT,
    )?;
    if out.code != 0 {
        return Err(Error::Command {
            command: format!("attrd_updater -p -n {name} -N {node} -U {value}"),
            message: format!("exit {}: {}", out.code, out.stderr.trim()),
        });
    }
    Ok(())
}

/// Delete `name` for `node`.
pub fn delete(node: &str, name: &str) -> Result<()> {
    let out = run(
        "attrd_updater",
        &["-p", "-n", name, "-N", node, "-D"],
        TIMEOUT,
    )?;
    if out.code != 0 {
        return Err(Error::Command {
            command: format!("attrd_updater -p -n {name} -N {node} -D"),
            message: format!("exit {}: {}", out.code, out.stderr.trim()),
        });
    }
    Ok(())
}

/// The value for one node; `None` when unset.
pub fn query(node: &str, name: &str) -> Result<Option<String>> {
    let out = run(
        "attrd_updater",
        &["-p", "-n", name, "-Q", "-N", node],
        TIMEOUT,
    )?;
    if out.code != 0 {
        // "attribute does not exist" / unknown node: not set.
        if is_absent(&out.stderr) {
            return Ok(None);
        }
        return Err(Error::Command {
            command: format!("attrd_updater -p -n {name} -Q -N {node}"),
            message: format!("exit {}: {}", out.code, out.stderr.trim()),
        });
    }
    Ok(parse_query(&out.stdout)
        .into_iter()
        .find(|(h, _)| h == node)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty()))
}

/// Every node's value (`-A`), as (node, value) pairs with a value.
pub fn query_all(name: &str) -> Result<Vec<(String, String)>> {
    let out = run("attrd_updater", &["-n", name, "-Q", "-A"], TIMEOUT)?;
    if out.code != 0 {
        if is_absent(&out.stderr) {
            return Ok(Vec::new());
        }
        return Err(Error::Command {
            command: format!("attrd_updater -n {name} -Q -A"),
            message: format!("exit {}: {}", out.code, out.stderr.trim()),
        });
    }
    Ok(parse_query(&out.stdout)
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect())
}

fn is_absent(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    s.contains("does not exist")
        || s.contains("no such")
        || s.contains("not found")
        || s.contains("unknown")
}

/// `name="evacuate" host="compute-1" value="yes"` lines.
pub fn parse_query(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let attrs = xml::attributes(line);
            let host = xml::attr(&attrs, "host")?.to_string();
            let value = xml::attr(&attrs, "value").unwrap_or("").to_string();
            Some((host, value))
        })
        .collect()
}

/// The reference's values: `yes` (evacuate), `no` (done), and
/// `<controller>@<epoch>` (an evacuation in progress since epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    Yes,
    No,
    InProgress { by: String, since: u64 },
    Other(String),
}

pub fn parse_mark(v: &str) -> Mark {
    match v.trim() {
        "yes" => Mark::Yes,
        "no" | "" => Mark::No,
        s => match s.rsplit_once('@') {
            Some((by, t)) => match t.parse() {
                Ok(since) => Mark::InProgress {
                    by: by.to_string(),
                    since,
                },
                Err(_) => Mark::Other(s.to_string()),
            },
            None => Mark::Other(s.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_output() {
        let out = "name=\"evacuate\" host=\"compute-0\" value=\"yes\"\nname=\"evacuate\" host=\"compute-1\" value=\"\"\n";
        assert_eq!(
            parse_query(out),
            vec![
                ("compute-0".into(), "yes".into()),
                ("compute-1".into(), "".into())
            ]
        );
    }

    #[test]
    fn marks() {
        assert_eq!(parse_mark("yes"), Mark::Yes);
        assert_eq!(parse_mark("no"), Mark::No);
        assert_eq!(
            parse_mark("ctl1@1763758047"),
            Mark::InProgress {
                by: "ctl1".into(),
                since: 1763758047
            }
        );
        assert_eq!(parse_mark("weird"), Mark::Other("weird".into()));
    }
}
