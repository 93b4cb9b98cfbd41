//! `instance-ha history`: evacuations recorded in the journal.

use serde_json::Value;

use super::{duration, print_json, table};
use crate::error::Result;
use crate::hostmap::short;
use crate::time::format_rfc3339;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn count(r: &Value, outcomes: &[&str]) -> usize {
    r.get("instances")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|i| outcomes.contains(&s(i, "outcome")))
                .count()
        })
        .unwrap_or(0)
}

/// Evacuation records, oldest first, filtered.
pub fn select(records: Vec<Value>, host: Option<&str>, last: Option<usize>) -> Vec<Value> {
    let mut v: Vec<Value> = records
        .into_iter()
        .filter(|r| s(r, "type") == "evacuation")
        .filter(|r| {
            host.map_or(true, |h| {
                s(r, "host") == h || short(s(r, "host")) == short(h)
            })
        })
        .collect();
    if let Some(n) = last {
        let skip = v.len().saturating_sub(n);
        v.drain(..skip);
    }
    v
}

pub fn render(records: &[Value]) -> String {
    if records.is_empty() {
        return format!(
            "no evacuations recorded in {}\n",
            crate::journal::path().display()
        );
    }
    let mut out = String::new();
    for r in records {
        let started = r
            .get("started")
            .and_then(Value::as_u64)
            .map(format_rfc3339)
            .unwrap_or_else(|| "?".into());
        let secs = r.get("seconds").and_then(Value::as_f64).unwrap_or(0.0);
        let (ok, failed, skipped) = (
            count(r, &["evacuated", "already-evacuated", "accepted"]),
            count(r, &["failed"]),
            count(r, &["skipped"]),
        );
        out.push_str(&format!(
            "{} {} by {} in {}: {} evacuated, {} failed, {} skipped{}\n",
            started,
            s(r, "host"),
            s(r, "by"),
            duration(secs),
            ok,
            failed,
            skipped,
            r.get("microversion")
                .and_then(Value::as_str)
                .map(|m| format!(" (Nova {m})"))
                .unwrap_or_default()
        ));
        let mut rows = vec![vec![
            "  INSTANCE".to_string(),
            "NAME".into(),
            "BEFORE".into(),
            "OUTCOME".into(),
            "TOOK".into(),
            "DETAIL".into(),
        ]];
        for i in r
            .get("instances")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let took = i
                .get("seconds")
                .and_then(Value::as_f64)
                .map(duration)
                .unwrap_or_else(|| "-".into());
            let detail = match s(i, "outcome") {
                "evacuated" => format!(
                    "to {} as {}",
                    s(i, "to"),
                    i.get("status_after").and_then(Value::as_str).unwrap_or("?")
                ),
                "already-evacuated" => format!("on {}", s(i, "to")),
                "accepted" => "request accepted (not followed)".into(),
                _ => s(i, "reason").to_string(),
            };
            let mut detail = detail;
            let attempts = i.get("attempts").and_then(Value::as_u64).unwrap_or(0);
            if attempts > 1 {
                detail.push_str(&format!(" ({attempts} attempts)"));
            }
            rows.push(vec![
                format!("  {}", s(i, "id")),
                s(i, "name").into(),
                s(i, "status_before").into(),
                s(i, "outcome").into(),
                took,
                detail,
            ]);
        }
        if rows.len() > 1 {
            out.push_str(&table(&rows));
        }
        out.push('\n');
    }
    out
}

pub fn run(json: bool, host: Option<&str>, last: Option<usize>) -> Result<i32> {
    let v = select(crate::journal::read_all(), host, last);
    if json {
        print_json(&v)?;
    } else {
        print!("{}", render(&v));
    }
    Ok(0)
}
