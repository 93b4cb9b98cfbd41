//! fencing.py's standard options. Both fence agents list all of them so
//! that every existing `pcs stonith create` line keeps validating; the ones
//! that only make sense for a login shell (login_timeout, shell_timeout,
//! ...) are accepted and documented as having no effect.

use crate::params::{Kind, Param};

pub const ACTION: Param = Param {
    short: Some('o'),
    long: Some("action"),
    metavar: Some("[action]"),
    default: Some("off"),
    required: true,
    ..Param::new("action", "Fencing action")
};
pub const PLUG: Param = Param {
    short: Some('n'),
    long: Some("plug"),
    metavar: Some("[id]"),
    old_name: Some("port"),
    required: true,
    ..Param::new(
        "plug",
        "Physical plug number on device, UUID or identification of machine",
    )
};
pub const QUIET: Param = Param {
    short: Some('q'),
    long: Some("quiet"),
    kind: Kind::Bool,
    ..Param::new("quiet", "Disable logging to stderr. Does not affect --verbose or --debug-file or logging to syslog.")
};
pub const VERBOSE: Param = Param {
    short: Some('v'),
    long: Some("verbose"),
    kind: Kind::Bool,
    ..Param::new("verbose", "Verbose mode. Multiple -v flags can be stacked on the command line (e.g., -vvv) to increase verbosity.")
};
pub const VERBOSE_LEVEL: Param = Param {
    long: Some("verbose-level"),
    metavar: Some("[level]"),
    kind: Kind::Int,
    ..Param::new("verbose_level", "Level of debugging detail in output. Defaults to the number of --verbose flags specified on the command line, or to 1 if verbose=1 in a stonith device configuration (i.e., on stdin).")
};
pub const DEBUG_FILE: Param = Param {
    short: Some('D'),
    long: Some("debug-file"),
    metavar: Some("[debugfile]"),
    old_name: Some("debug"),
    ..Param::new("debug_file", "Write debug information to given file")
};
pub const VERSION: Param = Param {
    short: Some('V'),
    long: Some("version"),
    kind: Kind::Bool,
    ..Param::new("version", "Display version information and exit")
};
pub const HELP: Param = Param {
    short: Some('h'),
    long: Some("help"),
    kind: Kind::Bool,
    ..Param::new("help", "Display help and exit")
};
pub const PLUG_SEPARATOR: Param = Param {
    long: Some("plug-separator"),
    metavar: Some("[char]"),
    default: Some(","),
    ..Param::new(
        "plug_separator",
        "Separator for plug parameter when specifying more than 1 plug",
    )
};
pub const SEPARATOR: Param = Param {
    short: Some('C'),
    long: Some("separator"),
    metavar: Some("[char]"),
    default: Some(","),
    ..Param::new("separator", "Separator for CSV created by 'list' operation")
};
pub const DELAY: Param = Param {
    long: Some("delay"),
    metavar: Some("[seconds]"),
    kind: Kind::Seconds,
    default: Some("0"),
    ..Param::new("delay", "Wait X seconds before fencing is started")
};
pub const DISABLE_TIMEOUT: Param = Param {
    long: Some("disable-timeout"),
    metavar: Some("[true/false]"),
    ..Param::new(
        "disable_timeout",
        "Disable timeout (true/false) (default: true when run from Pacemaker 2.0+)",
    )
};
pub const LOGIN_TIMEOUT: Param = Param {
    long: Some("login-timeout"),
    metavar: Some("[seconds]"),
    kind: Kind::Seconds,
    default: Some("5"),
    ..Param::new("login_timeout", "Wait X seconds for cmd prompt after login (accepted for compatibility; connect_timeout bounds connections)")
};
pub const POWER_TIMEOUT: Param = Param {
    long: Some("power-timeout"),
    metavar: Some("[seconds]"),
    kind: Kind::Seconds,
    default: Some("20"),
    ..Param::new(
        "power_timeout",
        "Test X seconds for status change after ON/OFF",
    )
};
pub const POWER_WAIT: Param = Param {
    long: Some("power-wait"),
    metavar: Some("[seconds]"),
    kind: Kind::Seconds,
    default: Some("0"),
    ..Param::new("power_wait", "Wait X seconds after issuing ON/OFF")
};
pub const SHELL_TIMEOUT: Param = Param {
    long: Some("shell-timeout"),
    metavar: Some("[seconds]"),
    kind: Kind::Seconds,
    default: Some("180"),
    ..Param::new("shell_timeout", "Wait X seconds for cmd prompt after issuing command (accepted for compatibility; no effect)")
};
pub const STONITH_STATUS_SLEEP: Param = Param {
    long: Some("stonith-status-sleep"),
    metavar: Some("[seconds]"),
    kind: Kind::Seconds,
    default: Some("1"),
    ..Param::new(
        "stonith_status_sleep",
        "Sleep X seconds between status calls during a STONITH action",
    )
};
pub const RETRY_ON: Param = Param {
    long: Some("retry-on"),
    metavar: Some("[attempts]"),
    kind: Kind::Int,
    default: Some("1"),
    ..Param::new("retry_on", "Count of attempts to retry power on")
};

// Evacuation options shared by fence_compute (accepted, as the reference
// does, though it only records) and fence_evacuate (used).
pub const INSTANCE_FILTERING: Param = Param {
    long: Some("instance-filtering"),
    kind: Kind::Bool,
    default: Some("True"),
    longdesc: "Only evacuate instances whose flavor (extra spec evacuable=true) or image (tag evacuable or property evacuable=true) is tagged; when nothing is tagged, evacuate all. False: evacuate nothing unless selection says all.",
    ..Param::new("instance_filtering", "Allow instances to be evacuated")
};
pub const NO_SHARED_STORAGE: Param = Param {
    long: Some("no-shared-storage"),
    kind: Kind::Bool,
    default: Some("False"),
    longdesc: "Instances' disks are not on shared storage. Only sent to Nova below microversion 2.14; from 2.14 Nova detects it (sending it wrongly is what turns every instance to ERROR with the reference agents).",
    ..Param::new("no_shared_storage", "Disable functionality for dealing with shared storage")
};
pub const RECORD_ONLY: Param = Param {
    short: Some('r'),
    long: Some("record-only"),
    metavar: Some("[value]"),
    default: Some("False"),
    ..Param::new(
        "record_only",
        "Only record the target as needing evacuation",
    )
};
