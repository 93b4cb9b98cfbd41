//! Parameter tables: one table per agent drives its metadata and every
//! input channel (fence-agents' stdin `key=value`, getopt-style argv,
//! `OCF_RESKEY_*` environment), the way fence-agents' `all_opt` and
//! ripgrep's flag table do.
//!
//! Values are kept as strings under the parameter's canonical name and
//! typed on access, so a bad value is reported against the name the
//! operator used and only when the agent needs it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{Error, Result};

/// How a value is interpreted (and shown in metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    /// A flag: `--insecure` on the command line, yes/no/true/false/on/off/1/0 elsewhere.
    Bool,
    Int,
    /// Seconds; also accepts `ms`, `s`, `m`, `h` suffixes (Pacemaker style).
    Seconds,
    /// A string that must never be logged or echoed.
    Secret,
}

/// One parameter of an agent.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Canonical name: the stdin key, the `OCF_RESKEY_` suffix, the metadata name.
    pub name: &'static str,
    /// A deprecated name that still works (fence metadata lists it with
    /// `deprecated="1"` and the canonical entry with `obsoletes`).
    pub old_name: Option<&'static str>,
    /// Other accepted spellings that are not advertised in metadata.
    pub aliases: &'static [&'static str],
    pub short: Option<char>,
    /// Long option without the leading `--`.
    pub long: Option<&'static str>,
    /// Shown in `--help` and fence metadata's getopt: `--auth-url=[url]`.
    pub metavar: Option<&'static str>,
    pub kind: Kind,
    pub default: Option<&'static str>,
    pub required: bool,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
    /// Shown in metadata (so existing configurations validate) but not in `--help`.
    pub hidden: bool,
}

impl Param {
    /// A `const`-friendly starting point; tables override fields with `..`.
    pub const fn new(name: &'static str, shortdesc: &'static str) -> Param {
        Param {
            name,
            old_name: None,
            aliases: &[],
            short: None,
            long: None,
            metavar: None,
            kind: Kind::Str,
            default: None,
            required: false,
            shortdesc,
            longdesc: "",
            hidden: false,
        }
    }

    pub fn takes_value(&self) -> bool {
        self.kind != Kind::Bool
    }

    /// `-k, --auth-url=[url]` as fence-agents prints it.
    pub fn getopt(&self) -> String {
        let mut s = String::new();
        if let Some(c) = self.short {
            s.push('-');
            s.push(c);
            if self.long.is_some() {
                s.push_str(", ");
            }
        }
        if let Some(l) = self.long {
            s.push_str("--");
            s.push_str(l);
            if let Some(m) = self.metavar {
                s.push('=');
                s.push_str(m);
            }
        }
        s
    }

    fn matches(&self, key: &str) -> bool {
        let norm = |s: &str| s.replace('-', "_");
        let k = norm(key);
        k == norm(self.name)
            || self.old_name.is_some_and(|o| k == norm(o))
            || self.long.is_some_and(|l| k == norm(l))
            || self.aliases.iter().any(|a| k == norm(a))
    }
}

/// Find the parameter a key (in any spelling: `auth-url`, `auth_url`,
/// `passwd`, ...) refers to.
pub fn lookup<'t>(table: &'t [Param], key: &str) -> Option<&'t Param> {
    table.iter().find(|p| p.matches(key))
}

/// `yes/on/true/1` and `no/off/false/0`, case-insensitive (fence-agents and
/// `ocf_is_true` accept the same words).
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "on" | "true" => Some(true),
        "0" | "no" | "n" | "off" | "false" | "" => Some(false),
        _ => None,
    }
}

/// `30`, `30s`, `500ms`, `2m`, `1h`, `1.5` (seconds).
pub fn parse_duration(value: &str) -> Option<Duration> {
    let v = value.trim();
    let (num, mult) = if let Some(n) = v.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("sec") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix("min") {
        (n, 60.0)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = v.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (v, 1.0)
    };
    let n: f64 = num.trim().parse().ok()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(n * mult))
}

/// Parsed parameter values, keyed by canonical name.
#[derive(Debug, Clone, Default)]
pub struct Values {
    table: &'static [Param],
    set: BTreeMap<&'static str, String>,
    /// How the operator spelled each parameter (for error messages).
    spelled: BTreeMap<&'static str, String>,
    /// Number of `-v` given on the command line.
    pub verbose_count: u32,
    /// Non-fatal input problems (unknown stdin keys, ...), to be logged.
    pub warnings: Vec<String>,
}

impl Values {
    pub fn new(table: &'static [Param]) -> Values {
        Values {
            table,
            ..Values::default()
        }
    }

    pub fn table(&self) -> &'static [Param] {
        self.table
    }

    /// Agents share code that asks for parameters another agent's table may
    /// not have: a name outside the table is simply not set.
    fn param(&self, name: &str) -> Option<&'static Param> {
        lookup(self.table, name)
    }

    /// Set a value; `spelled` is the key as the operator wrote it. Names
    /// outside the table are ignored (the parsers only pass table names).
    pub fn set(&mut self, name: &str, value: impl Into<String>, spelled: &str) {
        if let Some(p) = self.param(name) {
            self.set.insert(p.name, value.into());
            self.spelled.insert(p.name, spelled.to_string());
        }
    }

    pub fn remove(&mut self, name: &str) {
        if let Some(p) = self.param(name) {
            self.set.remove(p.name);
        }
    }

    /// Was it given explicitly (not just defaulted)?
    pub fn is_set(&self, name: &str) -> bool {
        self.param(name)
            .is_some_and(|p| self.set.contains_key(p.name))
    }

    /// The value given, else the table's default; `None` when neither, when
    /// empty, or when the table has no such parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        let p = self.param(name)?;
        let v = self.set.get(p.name).map(String::as_str).or(p.default)?;
        if v.is_empty() {
            None
        } else {
            Some(v)
        }
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_string)
    }

    fn spelled(&self, p: &Param) -> String {
        self.spelled
            .get(p.name)
            .cloned()
            .unwrap_or_else(|| p.name.to_string())
    }

    pub fn flag(&self, name: &str) -> Result<bool> {
        let Some(p) = self.param(name) else {
            return Ok(false);
        };
        match self.get(name) {
            None => Ok(false),
            Some(v) => parse_bool(v).ok_or_else(|| {
                Error::usage(format!(
                    "invalid value '{v}' for {}: expected yes/no, true/false, on/off or 1/0",
                    self.spelled(p)
                ))
            }),
        }
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>> {
        let Some(p) = self.param(name) else {
            return Ok(None);
        };
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| {
                Error::usage(format!(
                    "invalid value '{v}' for {}: expected a whole number",
                    self.spelled(p)
                ))
            }),
        }
    }

    pub fn duration(&self, name: &str) -> Result<Option<Duration>> {
        let Some(p) = self.param(name) else {
            return Ok(None);
        };
        match self.get(name) {
            None => Ok(None),
            Some(v) => parse_duration(v).map(Some).ok_or_else(|| {
                Error::usage(format!(
                    "invalid value '{v}' for {}: expected seconds (e.g. 30, 30s, 500ms, 2m)",
                    self.spelled(p)
                ))
            }),
        }
    }

    /// Check every explicitly given value against its kind, so bad input is
    /// reported up front and not in the middle of an action.
    pub fn check_kinds(&self) -> Result<()> {
        for p in self.table {
            if !self.set.contains_key(p.name) {
                continue;
            }
            match p.kind {
                Kind::Bool => {
                    self.flag(p.name)?;
                }
                Kind::Int => {
                    self.int(p.name)?;
                }
                Kind::Seconds => {
                    self.duration(p.name)?;
                }
                Kind::Str | Kind::Secret => {}
            }
        }
        Ok(())
    }

    /// Names of required parameters that have no value.
    pub fn missing_required(&self) -> Vec<&'static str> {
        self.table
            .iter()
            .filter(|p| p.required && self.get(p.name).is_none())
            .map(|p| p.name)
            .collect()
    }
}

/// fence-agents' stdin: one `key=value` per line, `#` comments, blank
/// lines, `-` and `_` alike, surrounding quotes dropped, last duplicate
/// wins. Keys in `ignored` (Pacemaker's `nodename` when the agent does not
/// use it) are skipped silently; other unknown keys are warnings, exactly
/// as fencing.py does, so a newer Pacemaker adding a key breaks nothing.
pub fn parse_stdin(table: &'static [Param], text: &str, ignored: &[&str]) -> Result<Values> {
    let mut values = Values::new(table);
    for (lineno, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            values.warnings.push(format!(
                "stdin line {}: ignoring '{}': no '=' in it",
                lineno + 1,
                printable(line)
            ));
            continue;
        };
        let key = key.trim();
        let value = unquote(value.trim());
        match lookup(table, key) {
            Some(p) => {
                if p.kind == Kind::Bool && parse_bool(value).is_none() {
                    return Err(Error::usage(format!(
                        "stdin line {}: invalid value '{}' for {key}: expected yes/no, true/false, on/off or 1/0",
                        lineno + 1,
                        printable(value)
                    )));
                }
                values.set(p.name, value, key);
            }
            None if ignored
                .iter()
                .any(|i| i.replace('-', "_") == key.replace('-', "_")) => {}
            None => values.warnings.push(format!(
                "stdin line {}: ignoring unknown option '{}'",
                lineno + 1,
                printable(key)
            )),
        }
    }
    Ok(values)
}

fn unquote(v: &str) -> &str {
    if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// Keep operator input printable in messages (no control characters).
pub fn printable(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if out.len() > 80 {
        let mut cut = 80;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...");
    }
    out
}

/// getopt-style command line: `-o off`, `-ooff`, `--action=off`,
/// `--action off`, `-v -v`/`-vv`, boolean long flags (`--insecure`, or
/// `--insecure=yes`). Unknown options are errors here (an operator typed
/// them). Returns the values and the positional arguments.
pub fn parse_argv(table: &'static [Param], args: &[String]) -> Result<(Values, Vec<String>)> {
    let mut values = Values::new(table);
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            positional.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let p = table
                .iter()
                .find(|p| p.long.is_some_and(|l| l == name) || p.matches(name))
                .ok_or_else(|| {
                    Error::usage(format!("unrecognised option '--{}'", printable(name)))
                })?;
            if p.takes_value() {
                let v = match inline {
                    Some(v) => v,
                    None => {
                        let v = args.get(i).ok_or_else(|| {
                            Error::usage(format!("option '--{name}' needs a value"))
                        })?;
                        i += 1;
                        v.clone()
                    }
                };
                values.set(p.name, v, &format!("--{name}"));
            } else {
                let v = match inline {
                    Some(v) => {
                        parse_bool(&v).ok_or_else(|| {
                            Error::usage(format!("invalid value '{}' for --{name}", printable(&v)))
                        })?;
                        v
                    }
                    None => "1".to_string(),
                };
                if p.name == "verbose" {
                    values.verbose_count += 1;
                }
                values.set(p.name, v, &format!("--{name}"));
            }
        } else if arg.len() > 1 && arg.starts_with('-') {
            // A cluster of short options: -vv, -o off, -ooff, -qv
            let chars: Vec<char> = arg[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                let p = table
                    .iter()
                    .find(|p| p.short == Some(c))
                    .ok_or_else(|| Error::usage(format!("unrecognised option '-{c}'")))?;
                if p.takes_value() {
                    let rest: String = chars[j..].iter().collect();
                    let v = if !rest.is_empty() {
                        rest
                    } else {
                        let v = args
                            .get(i)
                            .ok_or_else(|| Error::usage(format!("option '-{c}' needs a value")))?;
                        i += 1;
                        v.clone()
                    };
                    values.set(p.name, v, &format!("-{c}"));
                    break;
                }
                if p.name == "verbose" {
                    values.verbose_count += 1;
                }
                values.set(p.name, "1", &format!("-{c}"));
            }
        } else {
            positional.push(arg.clone());
        }
    }
    Ok((values, positional))
}

/// `OCF_RESKEY_<name>` variables; unknown ones (`OCF_RESKEY_CRM_meta_*`
/// and friends) are not ours to judge.
pub fn parse_env(
    table: &'static [Param],
    prefix: &str,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Values {
    let mut values = Values::new(table);
    for (k, v) in vars {
        let Some(name) = k.strip_prefix(prefix) else {
            continue;
        };
        if name.starts_with("CRM_meta") {
            continue;
        }
        if let Some(p) = lookup(table, name) {
            values.set(p.name, v, &k);
        }
    }
    values
}

/// Merge `higher` over `lower` (explicit values in `higher` win).
pub fn merge(mut lower: Values, higher: Values) -> Values {
    for (k, v) in higher.set {
        let spelled = higher
            .spelled
            .get(k)
            .cloned()
            .unwrap_or_else(|| k.to_string());
        lower.set.insert(k, v);
        lower.spelled.insert(k, spelled);
    }
    lower.verbose_count += higher.verbose_count;
    lower.warnings.extend(higher.warnings);
    lower
}

#[cfg(test)]
mod tests {
    use super::*;

    static T: &[Param] = &[
        Param {
            short: Some('o'),
            long: Some("action"),
            metavar: Some("[action]"),
            default: Some("off"),
            ..Param::new("action", "Fencing action")
        },
        Param {
            short: Some('k'),
            long: Some("auth-url"),
            metavar: Some("[url]"),
            ..Param::new("auth_url", "Keystone URL")
        },
        Param {
            short: Some('p'),
            long: Some("password"),
            old_name: Some("passwd"),
            kind: Kind::Secret,
            ..Param::new("password", "Password")
        },
        Param {
            long: Some("insecure"),
            kind: Kind::Bool,
            ..Param::new("insecure", "Insecure")
        },
        Param {
            short: Some('v'),
            long: Some("verbose"),
            kind: Kind::Bool,
            ..Param::new("verbose", "Verbose")
        },
        Param {
            short: Some('n'),
            long: Some("plug"),
            old_name: Some("port"),
            metavar: Some("[id]"),
            ..Param::new("plug", "Plug")
        },
        Param {
            long: Some("delay"),
            kind: Kind::Seconds,
            default: Some("0"),
            ..Param::new("delay", "Delay")
        },
        Param {
            long: Some("user-domain"),
            short: Some('u'),
            old_name: Some("user-domain"),
            ..Param::new("user_domain", "User domain")
        },
    ];

    #[test]
    fn stdin_comments_aliases_duplicates_quotes() {
        let v = parse_stdin(
            T,
            "# a comment\n\naction=on\nauth-url=http://k:5000/v3\npasswd=\"s3cret\"\nport=compute-1\naction=off\nnodename=ctl1\nbogus=1\n",
            &["nodename"],
        )
        .unwrap();
        assert_eq!(v.get("action"), Some("off"), "last duplicate wins");
        assert_eq!(v.get("auth_url"), Some("http://k:5000/v3"));
        assert_eq!(v.get("password"), Some("s3cret"));
        assert_eq!(v.get("plug"), Some("compute-1"));
        assert_eq!(v.warnings.len(), 1, "{:?}", v.warnings);
        assert!(v.warnings[0].contains("bogus"));
    }

    #[test]
    fn stdin_bad_boolean_is_an_error() {
        let e = parse_stdin(T, "insecure=maybe\n", &[]).unwrap_err();
        assert!(e.to_string().contains("insecure"), "{e}");
    }

    #[test]
    fn stdin_booleans() {
        for (s, b) in [
            ("yes", true),
            ("on", true),
            ("TRUE", true),
            ("1", true),
            ("no", false),
            ("off", false),
            ("0", false),
            ("False", false),
        ] {
            let v = parse_stdin(T, &format!("insecure={s}"), &[]).unwrap();
            assert_eq!(v.flag("insecure").unwrap(), b, "{s}");
        }
    }

    #[test]
    fn argv_short_long_clusters() {
        let args: Vec<String> = [
            "-ooff",
            "-k",
            "http://x",
            "--password=pw",
            "-vv",
            "--insecure",
            "--plug",
            "c1",
            "extra",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (v, pos) = parse_argv(T, &args).unwrap();
        assert_eq!(v.get("action"), Some("off"));
        assert_eq!(v.get("auth_url"), Some("http://x"));
        assert_eq!(v.get("password"), Some("pw"));
        assert_eq!(v.verbose_count, 2);
        assert!(v.flag("insecure").unwrap());
        assert_eq!(v.get("plug"), Some("c1"));
        assert_eq!(pos, vec!["extra".to_string()]);
    }

    #[test]
    fn argv_unknown_and_missing_values() {
        let e = parse_argv(T, &["--nope".into()]).unwrap_err();
        assert!(e.to_string().contains("--nope"));
        let e = parse_argv(T, &["-k".into()]).unwrap_err();
        assert!(e.to_string().contains("needs a value"));
        let e = parse_argv(T, &["-x".into()]).unwrap_err();
        assert!(e.to_string().contains("-x"));
    }

    #[test]
    fn env_channel() {
        let v = parse_env(
            T,
            "OCF_RESKEY_",
            vec![
                ("OCF_RESKEY_auth_url".to_string(), "http://a".to_string()),
                (
                    "OCF_RESKEY_CRM_meta_interval".to_string(),
                    "10000".to_string(),
                ),
                ("PATH".to_string(), "/bin".to_string()),
            ],
        );
        assert_eq!(v.get("auth_url"), Some("http://a"));
    }

    #[test]
    fn durations_and_kinds() {
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("-1"), None);
        let v = parse_stdin(T, "delay=soon", &[]).unwrap();
        let e = v.check_kinds().unwrap_err();
        assert!(e.to_string().contains("delay"), "{e}");
    }

    #[test]
    fn names_outside_the_table_are_unset_not_a_panic() {
        let v = parse_stdin(T, "action=on\n", &[]).unwrap();
        assert_eq!(v.get("no_such"), None);
        assert!(!v.flag("no_such").unwrap());
        assert_eq!(v.int("no_such").unwrap(), None);
        assert!(!v.is_set("no_such"));
    }

    #[test]
    fn getopt_rendering() {
        assert_eq!(T[1].getopt(), "-k, --auth-url=[url]");
        assert_eq!(T[3].getopt(), "--insecure");
    }
}
