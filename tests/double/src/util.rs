//! Small helpers: ids, timestamps, query strings, Python-style reprs (Nova's
//! validation messages quote the offending value as Python prints it).

use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// splitmix64: ids only, no cryptography.
pub struct Rng(u64);

impl Rng {
    pub fn seeded() -> Rng {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let local = 0u8;
        Rng(t ^ ((&local as *const u8 as u64) << 17) ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// RFC 4122 version 4 shaped UUID.
    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
    /// Keystone style id: 32 hex digits.
    pub fn hex32(&mut self) -> String {
        format!("{:016x}{:016x}", self.next_u64(), self.next_u64())
    }
    /// Token-ish opaque string (Fernet tokens start with gAAAAA).
    pub fn token(&mut self) -> String {
        let mut s = String::from("gAAAAA");
        for _ in 0..4 {
            s.push_str(&format!("{:016x}", self.next_u64()));
        }
        s
    }
}

/// Deterministic 32-hex id derived from a name (stable user/project ids).
pub fn stable_hex(seed: &str) -> String {
    let mut h1: u64 = 0xcbf2_9ce4_8422_2325;
    let mut h2: u64 = 0x8422_2325_cbf2_9ce4;
    for b in seed.bytes() {
        h1 = (h1 ^ b as u64).wrapping_mul(0x100_0000_01b3);
        h2 = (h2 ^ b as u64).wrapping_mul(0x100_0000_01b3).rotate_left(7);
    }
    format!("{:016x}{:016x}", h1, h2)
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe as i64 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn parts(t: SystemTime) -> (i64, u32, u32, u64, u64, u64, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86400) as i64);
    let rem = secs % 86400;
    (
        y,
        m,
        day,
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        d.subsec_micros(),
    )
}

/// "2026-11-21T20:50:26.000000" (Nova DB timestamps: services, migrations).
pub fn ts_micro(t: SystemTime) -> String {
    let (y, m, d, hh, mm, ss, us) = parts(t);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{us:06}")
}

/// "2026-11-21T20:50:26Z" (server created/updated).
pub fn ts_z(t: SystemTime) -> String {
    let (y, m, d, hh, mm, ss, _) = parts(t);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// "2026-11-21T21:50:26.000000Z" (Keystone expires_at/issued_at).
pub fn ts_keystone(t: SystemTime) -> String {
    format!("{}Z", ts_micro(t))
}

pub fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match h.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn pct_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{:02X}", b));
        }
    }
    out
}

pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (pct_decode(k), pct_decode(v)),
            None => (pct_decode(p), String::new()),
        })
        .collect()
}

fn py_str(s: &str) -> String {
    if s.contains('\'') && !s.contains('"') {
        format!("\"{}\"", s)
    } else {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// Python repr of a JSON value, as Nova's jsonschema errors print it.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_str(s),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", py_str(k), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// oslo's strutils-like boolean accepted by Nova's parameter_types.boolean.
pub fn nova_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.as_str() {
            "True" | "TRUE" | "true" | "1" | "ON" | "On" | "on" | "YES" | "Yes" | "yes" => {
                Some(true)
            }
            "False" | "FALSE" | "false" | "0" | "OFF" | "Off" | "off" | "NO" | "No" | "no" => {
                Some(false)
            }
            _ => None,
        },
        _ => None,
    }
}

pub const NOVA_BOOL_ENUM: &str = "[True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no']";

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn dates() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_795_294_226);
        assert_eq!(ts_z(t), "2026-11-21T20:50:26Z");
        assert_eq!(ts_micro(t), "2026-11-21T20:50:26.000000");
    }
    #[test]
    fn repr() {
        let v: Value = serde_json::json!({"host": "c1", "onSharedStorage": false, "x": null});
        assert_eq!(
            py_repr(&v),
            "{'host': 'c1', 'onSharedStorage': False, 'x': None}"
        );
        assert_eq!(pct_decode("a%20b+c%2"), "a b c%2");
    }
    #[test]
    fn uuid_shape() {
        let mut r = Rng::seeded();
        let u = r.uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
