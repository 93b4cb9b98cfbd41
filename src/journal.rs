//! The local journal of evacuations: one JSON document per line under
//! `/var/lib/instance-ha/journal.jsonl` (`IHA_STATE_DIR` overrides the
//! directory), rotated by size. `instance-ha history` reads it. Writing it
//! never fails an evacuation: a problem is logged and the work goes on.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

pub const DEFAULT_DIR: &str = "/var/lib/instance-ha";
const FILE: &str = "journal.jsonl";
/// Rotate past this size; keep this many old files.
const MAX_BYTES: u64 = 4 << 20;
const KEEP: usize = 4;

pub fn dir() -> PathBuf {
    std::env::var_os("IHA_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
}

pub fn path() -> PathBuf {
    dir().join(FILE)
}

fn rotate(p: &PathBuf) {
    if fs::metadata(p).map(|m| m.len() < MAX_BYTES).unwrap_or(true) {
        return;
    }
    for i in (1..KEEP).rev() {
        let _ = fs::rename(
            p.with_extension(format!("jsonl.{i}")),
            p.with_extension(format!("jsonl.{}", i + 1)),
        );
    }
    let _ = fs::rename(p, p.with_extension("jsonl.1"));
}

/// Append one record. A single `write` of one line, so concurrent writers
/// (two agents on one controller) never interleave within a line.
pub fn append<T: Serialize>(kind: &str, record: &T) {
    let d = dir();
    if let Err(e) = fs::create_dir_all(&d) {
        crate::debug!("journal: cannot create {}: {e}", d.display());
        return;
    }
    let p = path();
    rotate(&p);
    let mut v = match serde_json::to_value(record) {
        Ok(v) => v,
        Err(e) => return crate::warn!("journal: cannot serialise: {e}"),
    };
    if let Some(o) = v.as_object_mut() {
        o.insert("type".into(), kind.into());
        o.insert("time".into(), crate::time::now().into());
    }
    let mut line = v.to_string();
    line.push('\n');
    match OpenOptions::new().create(true).append(true).open(&p) {
        Ok(mut f) => {
            if let Err(e) = f.write_all(line.as_bytes()) {
                crate::warn!("journal: cannot write {}: {e}", p.display());
            }
        }
        Err(e) => crate::warn!("journal: cannot open {}: {e}", p.display()),
    }
}

pub fn record(report: &crate::engine::Report) {
    append("evacuation", report);
}

/// Every record, oldest first (rotated files included).
pub fn read_all() -> Vec<serde_json::Value> {
    let p = path();
    let mut files: Vec<PathBuf> = (1..=KEEP)
        .rev()
        .map(|i| p.with_extension(format!("jsonl.{i}")))
        .collect();
    files.push(p);
    let mut out = Vec::new();
    for f in files {
        if let Ok(text) = fs::read_to_string(&f) {
            out.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
        }
    }
    out
}
