//! The fence-agent protocol (ClusterLabs FenceAgentAPI, as fencing.py
//! implements it), shared by `fence_compute` and `fence_evacuate`.
//!
//! Input: with arguments, a getopt command line; without, `key=value`
//! lines on stdin (that is how pacemaker-fenced calls agents: no argv,
//! `action=`, `nodename=`, `port=` and the device's parameters on stdin).
//! Output: exit 0 on success, 1 on any failure, 2 for `status` when the
//! target is off. `list` prints `plug,alias` lines, `metadata` the XML
//! generated from the agent's one parameter table.

pub mod common;
pub mod compute;
pub mod evacuate;

use std::io::Read;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::log::{self, Level, LogConfig};
use crate::params::{self, Kind, Param, Values};
use crate::xml::escape;

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAIL: i32 = 1;
pub const EXIT_STATUS_OFF: i32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    On,
    Off,
    Reboot,
    Status,
    Monitor,
    List,
    ListStatus,
    Metadata,
    ValidateAll,
}

impl Action {
    pub fn parse(s: &str) -> Result<Action> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "on" | "enable" => Action::On,
            "off" | "disable" => Action::Off,
            "reboot" => Action::Reboot,
            "status" => Action::Status,
            "monitor" => Action::Monitor,
            "list" => Action::List,
            "list-status" => Action::ListStatus,
            "metadata" | "meta-data" => Action::Metadata,
            "validate-all" => Action::ValidateAll,
            other => {
                return Err(Error::usage(format!(
                    "unrecognised action '{}' (expected on, off, reboot, status, monitor, list, list-status, metadata or validate-all)",
                    params::printable(other)
                )))
            }
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Action::On => "on",
            Action::Off => "off",
            Action::Reboot => "reboot",
            Action::Status => "status",
            Action::Monitor => "monitor",
            Action::List => "list",
            Action::ListStatus => "list-status",
            Action::Metadata => "metadata",
            Action::ValidateAll => "validate-all",
        }
    }
    /// Actions that need a target (`plug`/`port`/`nodename`).
    pub fn needs_plug(self) -> bool {
        matches!(
            self,
            Action::On | Action::Off | Action::Reboot | Action::Status
        )
    }
}

/// Power state as a fence agent reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    On,
    Off,
}

impl Power {
    pub fn name(self) -> &'static str {
        match self {
            Power::On => "on",
            Power::Off => "off",
        }
    }
}

/// What an agent implements; the protocol (parsing, logging, exit codes,
/// metadata) is handled once in `run`.
pub trait FenceAgent {
    fn name(&self) -> &'static str;
    fn shortdesc(&self) -> &'static str;
    fn longdesc(&self) -> &'static str;
    fn table(&self) -> &'static [Param];
    /// The actions to advertise, in metadata order, with `automatic` for on.
    fn actions(&self) -> &'static [(Action, bool)];
    /// Fails with a clear message when the parameters cannot work.
    fn validate(&self, req: &Request) -> Result<()>;
    fn status(&self, req: &Request) -> Result<Power>;
    fn off(&self, req: &Request) -> Result<()>;
    fn on(&self, req: &Request) -> Result<()>;
    fn monitor(&self, req: &Request) -> Result<()>;
    fn list(&self, req: &Request) -> Result<Vec<(String, String, Option<Power>)>>;
}

/// A parsed invocation.
#[derive(Debug, Clone)]
pub struct Request {
    pub action: Action,
    pub values: Values,
    /// The target, from `plug`, `port` or `nodename` (in that order).
    pub plug: Option<String>,
    /// Pacemaker's `nodename=` (the node being fenced), when given.
    pub nodename: Option<String>,
    pub started: Instant,
}

impl Request {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name)
    }
    pub fn plug(&self) -> Result<&str> {
        self.plug.as_deref().ok_or_else(|| {
            Error::usage(format!(
                "action '{}' needs a target: give plug, port or nodename (-n)",
                self.action.name()
            ))
        })
    }
}

/// Parse argv (when there is any) or stdin, as fencing.py does.
pub fn parse(
    table: &'static [Param],
    args: &[String],
    stdin: impl FnOnce() -> String,
) -> Result<Request> {
    let mut nodename = None;
    let values = if args.is_empty() {
        let text = stdin();
        for line in text.lines() {
            if let Some(v) = line.trim().strip_prefix("nodename=") {
                nodename = Some(v.trim().to_string()).filter(|s| !s.is_empty());
            }
        }
        params::parse_stdin(table, &text, &["nodename"])?
    } else {
        let (values, positional) = params::parse_argv(table, args)?;
        if let Some(p) = positional.first() {
            return Err(Error::usage(format!(
                "unexpected argument '{}'",
                params::printable(p)
            )));
        }
        values
    };
    let action_name = values.get("action").unwrap_or("off").to_string();
    let action = Action::parse(&action_name)?;
    let plug = values.string("plug").or_else(|| nodename.clone());
    Ok(Request {
        action,
        values,
        plug,
        nodename,
        started: Instant::now(),
    })
}

/// Logging for a fence agent: stderr (pacemaker-fenced records it) unless
/// quiet, syslog, `debug_file`, more detail with `verbose`.
fn setup_logging(agent: &dyn FenceAgent, req: Option<&Request>) {
    let mut cfg = LogConfig::from_env(agent.name(), |k| std::env::var(k).ok());
    // fencing.py logs to syslog; pacemaker-fenced records an agent's stderr
    // in pacemaker.log, so every event line goes there too (one line each).
    if cfg.facility.is_none() && std::env::var("HA_LOGFACILITY").map_or(true, |f| f != "none") {
        cfg.facility = Some(nix::syslog::Facility::LOG_DAEMON);
    }
    cfg.stderr = Some(Level::Info);
    if let Some(req) = req {
        let verbose = req.values.flag("verbose").unwrap_or(false)
            || req.values.verbose_count > 0
            || req.values.int("verbose_level").ok().flatten().unwrap_or(0) > 0;
        if verbose {
            cfg.stderr = Some(Level::Debug);
            cfg.debug = true;
        }
        if req.values.flag("quiet").unwrap_or(false) {
            cfg.stderr = None;
        }
        if let Some(f) = req.get("debug_file") {
            cfg.debuglog = Some(f.into());
        }
    }
    log::init(cfg);
}

/// Run an agent to completion; returns the exit code. Never panics on bad
/// input: every error becomes one `ERROR:` line and exit 1.
pub fn run(agent: &dyn FenceAgent, args: &[String]) -> i32 {
    let stdin = || {
        let mut s = String::new();
        // Bound what we read: stdin is key=value lines, not a data stream.
        let _ = std::io::stdin().take(1 << 20).read_to_string(&mut s);
        s
    };
    // -h/-V answer before anything else (like fencing.py).
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{}", help(agent));
        return EXIT_OK;
    }
    if args.iter().any(|a| a == "-V" || a == "--version") {
        println!("{} {}", agent.name(), env!("CARGO_PKG_VERSION"));
        return EXIT_OK;
    }
    let req = match parse(agent.table(), args, stdin) {
        Ok(r) => r,
        Err(e) => {
            setup_logging(agent, None);
            error!("{e}");
            return EXIT_FAIL;
        }
    };
    setup_logging(agent, Some(&req));
    for w in &req.values.warnings {
        warn!("{w}");
    }
    match dispatch(agent, &req) {
        Ok(code) => {
            debug!(
                "{} {}: exit {}",
                req.action.name(),
                req.plug.as_deref().unwrap_or("-"),
                code
            );
            code
        }
        Err(e) => {
            error!(
                "{} {} failed: {e}",
                req.action.name(),
                req.plug.as_deref().unwrap_or("-")
            );
            EXIT_FAIL
        }
    }
}

fn dispatch(agent: &dyn FenceAgent, req: &Request) -> Result<i32> {
    if req.action == Action::Metadata {
        print!("{}", metadata(agent));
        return Ok(EXIT_OK);
    }
    if !agent.actions().iter().any(|(a, _)| *a == req.action) && req.action != Action::Reboot {
        return Err(Error::usage(format!(
            "action {} is not supported by {}",
            req.action.name(),
            agent.name()
        )));
    }
    req.values.check_kinds()?;
    if req.action.needs_plug() {
        req.plug()?;
    }
    agent.validate(req)?;
    match req.action {
        Action::ValidateAll => Ok(EXIT_OK),
        Action::Monitor => agent.monitor(req).map(|_| EXIT_OK),
        Action::Status => {
            let p = agent.status(req)?;
            println!("Status: {}", p.name().to_uppercase());
            Ok(if p == Power::Off {
                EXIT_STATUS_OFF
            } else {
                EXIT_OK
            })
        }
        Action::List | Action::ListStatus => {
            let sep = req.get("separator").unwrap_or(",");
            for (plug, alias, power) in agent.list(req)? {
                match (req.action, power) {
                    (Action::ListStatus, Some(p)) => {
                        println!("{plug}{sep}{alias}{sep}{}", p.name())
                    }
                    (Action::ListStatus, None) => println!("{plug}{sep}{alias}{sep}"),
                    _ => println!("{plug}{sep}{alias}"),
                }
            }
            Ok(EXIT_OK)
        }
        Action::Off | Action::Reboot => {
            if let Some(d) = req.values.duration("delay")? {
                if !d.is_zero() {
                    info!(
                        "delay: waiting {}s before fencing {}",
                        d.as_secs_f64(),
                        req.plug.as_deref().unwrap_or("-")
                    );
                    std::thread::sleep(d);
                }
            }
            agent.off(req)?;
            Ok(EXIT_OK)
        }
        Action::On => agent.on(req).map(|_| EXIT_OK),
        Action::Metadata => unreachable!("handled above"),
    }
}

/// The XML fence-agents prints for `-o metadata` (validates against
/// /usr/share/cluster/relaxng/metadata.rng).
pub fn metadata(agent: &dyn FenceAgent) -> String {
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" ?>\n");
    x.push_str(&format!(
        "<resource-agent name=\"{}\" shortdesc=\"{}\" >\n",
        escape(agent.name()),
        escape(agent.shortdesc())
    ));
    x.push_str(&format!(
        "<longdesc>{}</longdesc>\n",
        escape(agent.longdesc())
    ));
    x.push_str(
        "<vendor-url>https://github.com/ClusterLabs/fence-agents</vendor-url>\n<parameters>\n",
    );
    let mut entry = |name: &str, p: &Param, extra: &str| {
        let required = if p.required { "1" } else { "0" };
        x.push_str(&format!(
            "\t<parameter name=\"{}\" unique=\"0\" required=\"{required}\"{extra}>\n",
            escape(name)
        ));
        x.push_str(&format!(
            "\t\t<getopt mixed=\"{}\" />\n",
            escape(&p.getopt())
        ));
        let ty = match p.kind {
            Kind::Bool => "boolean",
            Kind::Int => "integer",
            Kind::Seconds => "second",
            Kind::Str | Kind::Secret => "string",
        };
        match p.default {
            Some(d) => x.push_str(&format!(
                "\t\t<content type=\"{ty}\" default=\"{}\"  />\n",
                escape(d)
            )),
            None => x.push_str(&format!("\t\t<content type=\"{ty}\"  />\n")),
        }
        x.push_str(&format!(
            "\t\t<shortdesc lang=\"en\">{}</shortdesc>\n",
            escape(p.shortdesc)
        ));
        x.push_str("\t</parameter>\n");
    };
    for p in agent.table() {
        // The deprecated spelling first, as fence-agents lists it.
        if let Some(old) = p.old_name {
            entry(old, p, " deprecated=\"1\"");
            entry(p.name, p, &format!(" obsoletes=\"{}\"", escape(old)));
        } else {
            entry(p.name, p, "");
        }
    }
    x.push_str("</parameters>\n<actions>\n");
    for (a, automatic) in agent.actions() {
        if *automatic {
            x.push_str(&format!(
                "\t<action name=\"{}\" automatic=\"1\"/>\n",
                a.name()
            ));
        } else {
            x.push_str(&format!("\t<action name=\"{}\" />\n", a.name()));
        }
    }
    x.push_str("\t<action name=\"metadata\" />\n");
    x.push_str("</actions>\n</resource-agent>\n");
    x
}

/// `-h`: usage generated from the table.
pub fn help(agent: &dyn FenceAgent) -> String {
    let mut s = format!("Usage:\n\t{} [options]\nOptions:\n", agent.name());
    for p in agent.table() {
        if p.hidden || (p.short.is_none() && p.long.is_none()) {
            continue;
        }
        s.push_str(&format!("   {:<34} {}\n", p.getopt(), p.shortdesc));
    }
    s.push_str(&format!(
        "\nWith no options, parameters are read from stdin as key=value lines (as pacemaker-fenced sends them).\n\n{}\n",
        agent.longdesc()
    ));
    s
}

/// Remaining time of an action bounded by `power_timeout` (or a given
/// bound), for waits that must end before Pacemaker kills the agent.
pub fn deadline(req: &Request, name: &str, fallback: Duration) -> Result<Instant> {
    let d = req.values.duration(name)?.unwrap_or(fallback);
    Ok(req.started + d)
}
