//! Logging the way Pacemaker agents log (ocf-shellfuncs' `ha_log`):
//!
//! * syslog with the facility in `HA_LOGFACILITY` (`none` turns it off),
//!   ident `name(instance)` with the PID;
//! * appended to `HA_LOGFILE`, and debug lines to `HA_DEBUGLOG`, as
//!   `tag:\tYYYY/MM/DD_HH:MM:SS LEVEL: message`;
//! * stderr for fence agents (pacemaker-fenced logs an agent's stderr) and
//!   for OCF agents run by hand on a terminal.
//!
//! One line per event: newlines in a message are folded so every event
//! stays greppable. A log file that cannot be opened (ocf-tester runs
//! `meta-data` as `nobody`) is skipped silently: logging never fails an
//! agent.

use std::ffi::CString;
use std::fmt;
use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use nix::syslog::{Facility, LogFlags, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARNING",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }
    fn severity(self) -> Severity {
        match self {
            Level::Error => Severity::LOG_ERR,
            Level::Warn => Severity::LOG_WARNING,
            Level::Info => Severity::LOG_INFO,
            Level::Debug => Severity::LOG_DEBUG,
        }
    }
}

/// Where log lines go. Built from the environment by `from_env`, adjusted
/// by the agent (verbose, quiet, debug file) and installed with `init`.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `NovaEvacuate(nova-evacuate)` or `fence_compute`.
    pub tag: String,
    pub facility: Option<Facility>,
    pub logfile: Option<PathBuf>,
    pub debuglog: Option<PathBuf>,
    /// The most detailed level sent to stderr; `None`: nothing.
    pub stderr: Option<Level>,
    /// Emit debug lines to syslog and the log file too.
    pub debug: bool,
}

fn facility_from_name(name: &str) -> Option<Facility> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "daemon" => Facility::LOG_DAEMON,
        "user" => Facility::LOG_USER,
        "local0" => Facility::LOG_LOCAL0,
        "local1" => Facility::LOG_LOCAL1,
        "local2" => Facility::LOG_LOCAL2,
        "local3" => Facility::LOG_LOCAL3,
        "local4" => Facility::LOG_LOCAL4,
        "local5" => Facility::LOG_LOCAL5,
        "local6" => Facility::LOG_LOCAL6,
        "local7" => Facility::LOG_LOCAL7,
        "syslog" => Facility::LOG_SYSLOG,
        _ => return None,
    })
}

impl LogConfig {
    /// OCF conventions, as ocf-shellfuncs' `ha_log`: syslog only when
    /// `HA_LOGFACILITY` names a facility (`none` or unset: no syslog),
    /// `HA_LOGFILE`, `HA_DEBUGLOG`, `HA_debug`; and when neither syslog nor
    /// a log file is configured, stderr, which pacemaker-execd records in
    /// pacemaker.log (that is where shell agents' lines end up without a
    /// syslog daemon). On a terminal, stderr too.
    pub fn from_env(tag: &str, env: impl Fn(&str) -> Option<String>) -> LogConfig {
        let facility = match env("HA_LOGFACILITY") {
            None => None,
            Some(f) if f.is_empty() || f == "none" => None,
            Some(f) => facility_from_name(&f).or(Some(Facility::LOG_DAEMON)),
        };
        let path = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let debug = env("HA_debug").is_some_and(|v| {
            v == "1" || v.eq_ignore_ascii_case("yes") || v.eq_ignore_ascii_case("true")
        });
        let logfile = path("HA_LOGFILE");
        let nowhere = facility.is_none() && logfile.is_none();
        LogConfig {
            tag: tag.to_string(),
            facility,
            logfile,
            debuglog: path("HA_DEBUGLOG"),
            stderr: if nowhere || std::io::stderr().is_terminal() {
                Some(Level::Info)
            } else {
                None
            },
            debug,
        }
    }

    /// A process whose stderr goes nowhere (the NovaEvacuate helper) and
    /// that has no syslog facility or log file configured writes to
    /// Pacemaker's own log (`HA_logfile`/`PCMK_logfile`, which Pacemaker
    /// exports to every agent), where the agent's other lines are.
    pub fn detached(mut self, env: impl Fn(&str) -> Option<String>) -> LogConfig {
        if self.facility.is_none() && self.logfile.is_none() {
            self.logfile = env("HA_logfile")
                .or_else(|| env("PCMK_logfile"))
                .filter(|v| !v.is_empty() && v != "none")
                .map(PathBuf::from);
        }
        self.stderr = None;
        self
    }
}

struct Logger {
    cfg: LogConfig,
    syslog_open: bool,
}

static LOGGER: OnceLock<Mutex<Logger>> = OnceLock::new();

/// Install the configuration. Later calls replace it (an agent refines its
/// logging once it has parsed its parameters).
pub fn init(cfg: LogConfig) {
    let mut syslog_open = false;
    if let Some(fac) = cfg.facility {
        // openlog keeps the pointer: the ident must live forever.
        if let Ok(ident) = CString::new(cfg.tag.replace('\0', "")) {
            let ident: &'static std::ffi::CStr = Box::leak(ident.into_boxed_c_str());
            syslog_open = nix::syslog::openlog(Some(ident), LogFlags::LOG_PID, fac).is_ok();
        }
    }
    let cell = LOGGER.get_or_init(|| {
        Mutex::new(Logger {
            cfg: cfg.clone(),
            syslog_open,
        })
    });
    if let Ok(mut l) = cell.lock() {
        l.cfg = cfg;
        l.syslog_open = syslog_open;
    }
}

/// Current configuration (for tests and for agents that adjust it).
pub fn config() -> Option<LogConfig> {
    LOGGER
        .get()
        .and_then(|m| m.lock().ok())
        .map(|l| l.cfg.clone())
}

/// One line: control characters (newlines from a multi-line API message)
/// become spaces.
pub fn one_line(msg: &str) -> String {
    let s: String = msg
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    s.trim().to_string()
}

/// `2026/11/21_20:47:27.123` in local time: ocf-shellfuncs' `hadate`
/// with milliseconds (reaction times are sub-second).
pub fn hadate() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // libc marks time_t deprecated on musl (it turns 64-bit with musl 1.2);
    // try_from below follows whatever width it has.
    #[allow(deprecated)]
    let now = nix::libc::time_t::try_from(d.as_secs()).unwrap_or(0);
    // SAFETY: localtime_r writes only into the tm we pass.
    let mut tm: nix::libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !nix::libc::localtime_r(&now, &mut tm).is_null() };
    if !ok {
        return now.to_string();
    }
    format!(
        "{:04}/{:02}/{:02}_{:02}:{:02}:{:02}.{:03}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        d.subsec_millis()
    )
}

fn append(path: &PathBuf, line: &str) {
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = f.write_all(line.as_bytes());
    }
}

pub fn emit(level: Level, args: fmt::Arguments<'_>) {
    let msg = one_line(&args.to_string());
    let Some(cell) = LOGGER.get() else {
        // Not initialised (unit tests, early errors): stderr only for problems.
        if level <= Level::Warn {
            eprintln!("{}: {}", level.label(), msg);
        }
        return;
    };
    let Ok(l) = cell.lock() else { return };
    let cfg = &l.cfg;
    if let Some(max) = cfg.stderr {
        if level <= max {
            // Pacemaker records this stream with its own (later) time stamp:
            // ours says when it happened. On a terminal, just the message.
            if std::io::stderr().is_terminal() {
                eprintln!("{}: {}", level.label(), msg);
            } else {
                eprintln!("{} {}: {}", hadate(), level.label(), msg);
            }
        }
    }
    let wanted = level < Level::Debug || cfg.debug;
    if wanted && l.syslog_open {
        if let Some(fac) = cfg.facility {
            let _ = nix::syslog::syslog(
                nix::syslog::Priority::new(level.severity(), fac),
                &format!("{}: {}", level.label(), msg),
            );
        }
    }
    let line = format!(
        "{}[{}]:\t{} {}: {}\n",
        cfg.tag,
        std::process::id(),
        hadate(),
        level.label(),
        msg
    );
    if wanted {
        if let Some(p) = &cfg.logfile {
            append(p, &line);
        }
    }
    if let Some(p) = &cfg.debuglog {
        if cfg.logfile.as_ref() != Some(p) || !wanted {
            append(p, &line);
        }
    }
}

#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::emit($crate::log::Level::Error, format_args!($($arg)*)) };
}
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::emit($crate::log::Level::Warn, format_args!($($arg)*)) };
}
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::emit($crate::log::Level::Info, format_args!($($arg)*)) };
}
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::emit($crate::log::Level::Debug, format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_folds_newlines() {
        assert_eq!(one_line("a\nb\r\tc\n"), "a b  c");
    }

    #[test]
    fn env_facility_and_files() {
        let env = |k: &str| match k {
            "HA_LOGFACILITY" => Some("local5".to_string()),
            "HA_LOGFILE" => Some("/tmp/x.log".to_string()),
            "HA_debug" => Some("1".to_string()),
            _ => None,
        };
        let c = LogConfig::from_env("t", env);
        assert_eq!(c.facility, Some(Facility::LOG_LOCAL5));
        assert_eq!(c.logfile, Some(PathBuf::from("/tmp/x.log")));
        assert!(c.debug);
        let c = LogConfig::from_env("t", |k| (k == "HA_LOGFACILITY").then(|| "none".to_string()));
        assert_eq!(c.facility, None);
        assert_eq!(
            c.stderr,
            Some(Level::Info),
            "no syslog, no file: stderr, as ocf-shellfuncs"
        );
        let c = LogConfig::from_env("t", |_| None);
        assert_eq!(c.facility, None, "unset: no syslog");
        let d = c.detached(|k| {
            (k == "HA_logfile").then(|| "/var/log/pacemaker/pacemaker.log".to_string())
        });
        assert_eq!(
            d.logfile,
            Some(PathBuf::from("/var/log/pacemaker/pacemaker.log"))
        );
        assert_eq!(d.stderr, None);
    }

    #[test]
    fn hadate_shape() {
        let d = hadate();
        assert_eq!(d.len(), 23, "{d}");
        assert_eq!(&d[4..5], "/");
        assert_eq!(&d[10..11], "_");
    }
}
