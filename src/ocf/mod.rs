//! The OCF resource-agent protocol (ClusterLabs OCF-spec, resource-agents'
//! `ocf-shellfuncs`), shared by `NovaEvacuate` and `nova-compute-wait`.
//!
//! Parameters come from `OCF_RESKEY_<name>` (how pacemaker-execd passes
//! them), `--long-options` on the command line and, with `--stdin`,
//! `key=value` lines: the same table drives all three and the metadata.
//! The action is the first positional argument. Failures print an
//! `ocf-exit-reason:` line on stderr, which Pacemaker shows in
//! `crm_mon`/`pcs status`.

pub mod daemon;
pub mod nova_compute_wait;
pub mod nova_evacuate;

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::log::{self, Level, LogConfig};
use crate::params::{self, Kind, Param, Values};
use crate::xml::escape;

pub const SUCCESS: i32 = 0;
pub const ERR_GENERIC: i32 = 1;
pub const ERR_ARGS: i32 = 2;
pub const ERR_UNIMPLEMENTED: i32 = 3;
pub const ERR_PERM: i32 = 4;
pub const ERR_INSTALLED: i32 = 5;
pub const ERR_CONFIGURED: i32 = 6;
pub const NOT_RUNNING: i32 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Monitor,
    MetaData,
    ValidateAll,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "start" => Action::Start,
            "stop" => Action::Stop,
            "monitor" | "status" => Action::Monitor,
            "meta-data" | "metadata" => Action::MetaData,
            "validate-all" => Action::ValidateAll,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Monitor => "monitor",
            Action::MetaData => "meta-data",
            Action::ValidateAll => "validate-all",
        }
    }
}

/// An action in the metadata: name, timeout, interval, depth.
#[derive(Debug, Clone, Copy)]
pub struct ActionSpec {
    pub name: &'static str,
    pub timeout: &'static str,
    pub interval: Option<&'static str>,
    pub depth: Option<u32>,
}

/// The outcome of an action, as an OCF exit code with its reason.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub reason: Option<String>,
}

impl Outcome {
    pub fn ok() -> Outcome {
        Outcome {
            code: SUCCESS,
            reason: None,
        }
    }
    pub fn not_running() -> Outcome {
        Outcome {
            code: NOT_RUNNING,
            reason: None,
        }
    }
    pub fn fail(code: i32, reason: impl Into<String>) -> Outcome {
        Outcome {
            code,
            reason: Some(reason.into()),
        }
    }
}

/// How a library error maps to an OCF exit code: configuration problems
/// are `ERR_CONFIGURED` (Pacemaker will not retry them anywhere),
/// everything else `ERR_GENERIC`.
pub fn exit_code(e: &Error) -> i32 {
    match e {
        Error::Usage(_) | Error::Config(_) | Error::Ambiguous(_) => ERR_CONFIGURED,
        Error::Auth { .. } => ERR_CONFIGURED,
        _ => ERR_GENERIC,
    }
}

impl From<Error> for Outcome {
    fn from(e: Error) -> Outcome {
        Outcome::fail(exit_code(&e), e.to_string())
    }
}

/// One invocation: action, parameters and the OCF environment.
#[derive(Debug, Clone)]
pub struct Context {
    pub action: Action,
    pub values: Values,
    /// `OCF_RESOURCE_INSTANCE` (the resource id, with `:N` for clones).
    pub instance: String,
    /// A probe: monitor with interval 0 (Pacemaker checking whether the
    /// resource runs where it did not start it).
    pub probe: bool,
    /// `OCF_CHECK_LEVEL` (0 cheap, 10 deeper, 20 deepest).
    pub check_level: u32,
    /// `HA_RSCTMP`: per-boot state (pid files); wiped at boot.
    pub rsc_tmp: PathBuf,
    /// `OCF_RESKEY_CRM_meta_timeout` (the action's timeout).
    pub timeout: Option<Duration>,
    pub env: Vec<(String, String)>,
}

impl Context {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name)
    }
    pub fn env(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// The cluster node this runs on (`OCF_RESKEY_CRM_meta_on_node`, else
    /// the hostname).
    pub fn local_node(&self) -> String {
        self.env("OCF_RESKEY_CRM_meta_on_node")
            .map(str::to_string)
            .or_else(|| {
                nix::unistd::gethostname()
                    .ok()
                    .and_then(|h| h.into_string().ok())
            })
            .unwrap_or_else(|| "localhost".to_string())
    }
}

pub trait OcfAgent {
    fn name(&self) -> &'static str;
    fn version(&self) -> &'static str {
        "1.0"
    }
    fn shortdesc(&self) -> &'static str;
    fn longdesc(&self) -> &'static str;
    fn table(&self) -> &'static [Param];
    fn actions(&self) -> &'static [ActionSpec];
    fn validate(&self, ctx: &Context) -> Result<()>;
    fn start(&self, ctx: &Context) -> Outcome;
    fn stop(&self, ctx: &Context) -> Outcome;
    fn monitor(&self, ctx: &Context) -> Outcome;
}

/// Build the context from the process environment, argv and (with
/// `--stdin`) standard input.
pub fn context(
    table: &'static [Param],
    args: &[String],
    env: Vec<(String, String)>,
    stdin: impl FnOnce() -> String,
) -> Result<Context> {
    let use_stdin = args.iter().any(|a| a == "--stdin");
    let args: Vec<String> = args.iter().filter(|a| *a != "--stdin").cloned().collect();
    let (argv_values, positional) = params::parse_argv(table, &args)?;
    let action_name = match positional.as_slice() {
        [a] => a.clone(),
        [] => {
            return Err(Error::usage(
                "no action given (start, stop, monitor, meta-data, validate-all)",
            ))
        }
        [_, extra, ..] => {
            return Err(Error::usage(format!(
                "unexpected argument '{}'",
                params::printable(extra)
            )))
        }
    };
    let action = Action::parse(&action_name).ok_or_else(|| {
        Error::Usage(format!(
            "unsupported action '{}'",
            params::printable(&action_name)
        ))
    })?;
    let mut values = params::parse_env(table, "OCF_RESKEY_", env.iter().cloned());
    if use_stdin {
        let v = params::parse_stdin(table, &stdin(), &[])?;
        values = params::merge(values, v);
    }
    values = params::merge(values, argv_values);
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let interval = get("OCF_RESKEY_CRM_meta_interval")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let probe = action == Action::Monitor && interval == 0;
    let check_level = get("OCF_CHECK_LEVEL")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let timeout = get("OCF_RESKEY_CRM_meta_timeout")
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis);
    let instance = get("OCF_RESOURCE_INSTANCE").unwrap_or_else(|| "default".to_string());
    let rsc_tmp = get("HA_RSCTMP")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/resource-agents"));
    Ok(Context {
        action,
        values,
        instance,
        probe,
        check_level,
        rsc_tmp,
        timeout,
        env,
    })
}

/// Print the exit reason where Pacemaker looks for it and log it.
pub fn exit_reason(reason: &str) {
    let r = log::one_line(reason);
    error!("{r}");
    eprintln!("ocf-exit-reason:{r}");
}

/// Run an OCF agent; returns the exit code.
pub fn run(agent: &dyn OcfAgent, args: &[String]) -> i32 {
    let env: Vec<(String, String)> = std::env::vars().collect();
    // meta-data must work anywhere, as any user, without parameters.
    if args.first().map(String::as_str) == Some("meta-data")
        || args.first().map(String::as_str) == Some("metadata")
    {
        print!("{}", metadata(agent));
        return SUCCESS;
    }
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{}", help(agent));
        return SUCCESS;
    }
    let instance = env
        .iter()
        .find(|(k, _)| k == "OCF_RESOURCE_INSTANCE")
        .map(|(_, v)| v.clone());
    let tag = match &instance {
        Some(i) => format!("{}({i})", agent.name()),
        None => agent.name().to_string(),
    };
    let mut cfg = LogConfig::from_env(&tag, |k| {
        env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    });
    let ctx = match context(agent.table(), args, env.clone(), read_stdin) {
        Ok(c) => c,
        Err(e) => {
            log::init(cfg);
            exit_reason(&e.to_string());
            return match e {
                Error::Usage(m)
                    if m.starts_with("unsupported action") || m.starts_with("no action") =>
                {
                    ERR_UNIMPLEMENTED
                }
                _ => ERR_ARGS,
            };
        }
    };
    if ctx.values.flag("verbose").unwrap_or(false) {
        cfg.debug = true;
        if cfg.stderr.is_some() {
            cfg.stderr = Some(Level::Debug);
        }
    }
    log::init(cfg);
    for w in &ctx.values.warnings {
        warn!("{w}");
    }
    let outcome = dispatch(agent, &ctx);
    if let Some(r) = &outcome.reason {
        // A probe finding nothing is not a failure worth a reason line.
        if outcome.code != NOT_RUNNING || !ctx.probe {
            exit_reason(r);
        }
    }
    debug!("{} exit {}", ctx.action.name(), outcome.code);
    outcome.code
}

fn read_stdin() -> String {
    let mut s = String::new();
    let _ = std::io::stdin().take(1 << 20).read_to_string(&mut s);
    s
}

fn dispatch(agent: &dyn OcfAgent, ctx: &Context) -> Outcome {
    if let Err(e) = ctx.values.check_kinds() {
        return Outcome::fail(ERR_CONFIGURED, e.to_string());
    }
    let missing = ctx.values.missing_required();
    let validated = if missing.is_empty() {
        agent.validate(ctx)
    } else {
        Err(Error::Config(format!(
            "required parameter(s) missing: {}",
            missing.join(", ")
        )))
    };
    match ctx.action {
        Action::MetaData => {
            print!("{}", metadata(agent));
            Outcome::ok()
        }
        Action::ValidateAll => match validated {
            Ok(()) => Outcome::ok(),
            Err(e) => e.into(),
        },
        // Stop must succeed whenever it can, even with a broken
        // configuration: otherwise Pacemaker fences the node.
        Action::Stop => agent.stop(ctx),
        Action::Monitor => {
            if let Err(e) = validated {
                // A probe on a node that cannot run us: report "not running"
                // rather than failing the probe (Dummy's convention).
                if ctx.probe {
                    return Outcome {
                        code: NOT_RUNNING,
                        reason: Some(e.to_string()),
                    };
                }
                return e.into();
            }
            agent.monitor(ctx)
        }
        Action::Start => match validated {
            Ok(()) => agent.start(ctx),
            Err(e) => e.into(),
        },
    }
}

/// Metadata per ra-api-1.dtd.
pub fn metadata(agent: &dyn OcfAgent) -> String {
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\"?>\n<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n");
    x.push_str(&format!(
        "<resource-agent name=\"{}\" version=\"{}\">\n",
        escape(agent.name()),
        escape(agent.version())
    ));
    x.push_str(&format!(
        "<version>1.0</version>\n\n<longdesc lang=\"en\">\n{}\n</longdesc>\n",
        escape(agent.longdesc())
    ));
    x.push_str(&format!(
        "<shortdesc lang=\"en\">{}</shortdesc>\n\n<parameters>\n",
        escape(agent.shortdesc())
    ));
    for p in agent.table() {
        let required = if p.required { "1" } else { "0" };
        x.push_str(&format!(
            "<parameter name=\"{}\" unique=\"0\" required=\"{required}\">\n",
            escape(p.name)
        ));
        let long = if p.longdesc.is_empty() {
            p.shortdesc
        } else {
            p.longdesc
        };
        x.push_str(&format!(
            "<longdesc lang=\"en\">\n{}\n</longdesc>\n",
            escape(long)
        ));
        x.push_str(&format!(
            "<shortdesc lang=\"en\">{}</shortdesc>\n",
            escape(p.shortdesc)
        ));
        let ty = match p.kind {
            Kind::Bool => "boolean",
            Kind::Int => "integer",
            Kind::Seconds | Kind::Str | Kind::Secret => "string",
        };
        match p.default {
            Some(d) => x.push_str(&format!(
                "<content type=\"{ty}\" default=\"{}\" />\n",
                escape(d)
            )),
            None => x.push_str(&format!("<content type=\"{ty}\" />\n")),
        }
        x.push_str("</parameter>\n\n");
    }
    x.push_str("</parameters>\n\n<actions>\n");
    for a in agent.actions() {
        let mut line = format!("<action name=\"{}\" timeout=\"{}\"", a.name, a.timeout);
        if let Some(i) = a.interval {
            line.push_str(&format!(" interval=\"{i}\""));
        }
        if let Some(d) = a.depth {
            line.push_str(&format!(" depth=\"{d}\""));
        }
        line.push_str(" />\n");
        x.push_str(&line);
    }
    x.push_str("</actions>\n</resource-agent>\n");
    x
}

pub fn help(agent: &dyn OcfAgent) -> String {
    let mut s = format!(
        "Usage: {} {{start|stop|monitor|meta-data|validate-all}} [--option=value ...] [--stdin]\n\n{}\n\nParameters (OCF_RESKEY_<name>, --<name>, or name=value on stdin with --stdin):\n",
        agent.name(),
        agent.shortdesc()
    );
    for p in agent.table() {
        s.push_str(&format!("  {:<28} {}\n", p.name, p.shortdesc));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    static T: &[Param] = &[
        Param {
            long: Some("auth_url"),
            required: true,
            ..Param::new("auth_url", "Keystone")
        },
        Param {
            long: Some("verbose"),
            kind: Kind::Bool,
            ..Param::new("verbose", "Verbose")
        },
        Param {
            long: Some("evacuate_delay"),
            kind: Kind::Seconds,
            default: Some("0"),
            ..Param::new("evacuate_delay", "Delay")
        },
    ];

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn probe_and_check_level() {
        let c = context(
            T,
            &["monitor".into()],
            env(&[
                ("OCF_RESKEY_CRM_meta_interval", "0"),
                ("OCF_CHECK_LEVEL", "10"),
            ]),
            String::new,
        )
        .unwrap();
        assert!(c.probe);
        assert_eq!(c.check_level, 10);
        let c = context(
            T,
            &["monitor".into()],
            env(&[("OCF_RESKEY_CRM_meta_interval", "10000")]),
            String::new,
        )
        .unwrap();
        assert!(!c.probe);
    }

    #[test]
    fn three_channels_with_precedence() {
        let c = context(
            T,
            &[
                "--stdin".into(),
                "start".into(),
                "--evacuate_delay=5".into(),
            ],
            env(&[
                ("OCF_RESKEY_auth_url", "http://env"),
                ("OCF_RESKEY_evacuate_delay", "1"),
            ]),
            || "auth_url=http://stdin\nverbose=yes\n".to_string(),
        )
        .unwrap();
        assert_eq!(c.get("auth_url"), Some("http://stdin"));
        assert_eq!(c.get("evacuate_delay"), Some("5"));
        assert!(c.values.flag("verbose").unwrap());
    }

    #[test]
    fn bad_actions() {
        let e = context(T, &["frobnicate".into()], vec![], String::new).unwrap_err();
        assert!(e.to_string().contains("frobnicate"));
        let e = context(T, &[], vec![], String::new).unwrap_err();
        assert!(e.to_string().contains("no action"));
    }

    #[test]
    fn error_mapping() {
        assert_eq!(exit_code(&Error::Config("x".into())), ERR_CONFIGURED);
        assert_eq!(exit_code(&Error::Timeout("x".into())), ERR_GENERIC);
    }
}
