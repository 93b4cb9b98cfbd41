//! `instance-ha`: the operator's command. Status of every compute host,
//! dry-run plans, the evacuation history, an end-to-end configuration
//! check, manual recovery and evacuation, Prometheus metrics.
//!
//! Credentials: `--cloud NAME`, else `OS_CLOUD`/`OS_*` as the OpenStack
//! clients read them, or `--from-cib`: the parameters of the cluster's
//! NovaEvacuate resource (else its fence_compute device), so an operator
//! on a controller needs nothing else. Secrets are never printed.

mod check;
pub mod cib;
mod history;
mod ops;
mod status;

use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::cloud_params::{self, *};
use crate::engine::params::*;
use crate::error::{Error, Result};
use crate::fence::common::{INSTANCE_FILTERING, NO_SHARED_STORAGE};
use crate::log::{Level, LogConfig};
use crate::openstack::{CloudConfig, Glance, Nova, Service, Session};
use crate::params::{Param, Values};

#[derive(Debug, Parser)]
#[command(
    name = "instance-ha",
    version,
    about = "Operate OpenStack instance HA on Pacemaker: status, plans, history, checks, recovery, evacuation, metrics"
)]
pub struct Cli {
    /// clouds.yaml entry to authenticate with (default: OS_CLOUD / OS_* variables)
    #[arg(long, global = true, value_name = "NAME")]
    pub cloud: Option<String>,
    /// Use the credentials and settings of the cluster's NovaEvacuate resource (or fence_compute device), read with cibadmin
    #[arg(long, global = true, conflicts_with = "cloud")]
    pub from_cib: bool,
    /// More detail on stderr
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Every compute host: cluster node, Nova service, evacuation state and progress
    Status {
        #[arg(long)]
        json: bool,
        /// Redraw every SECS seconds until interrupted
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
        watch: Option<u64>,
        /// Stop after this many redraws (with --watch)
        #[arg(long, hide = true)]
        iterations: Option<u64>,
    },
    /// Dry run: which instances of HOST would be evacuated, in which order, and why
    Plan {
        host: String,
        #[arg(long)]
        json: bool,
        #[arg(long, value_parser = ["auto", "all", "tagged", "none"])]
        policy: Option<String>,
        #[arg(long, value_parser = ["skip", "evacuate"])]
        error_instances: Option<String>,
    },
    /// Past evacuations from the journal, with per-instance outcomes
    History {
        #[arg(long)]
        json: bool,
        #[arg(long, value_name = "HOST")]
        host: Option<String>,
        /// Only the last N evacuations
        #[arg(long, value_name = "N")]
        last: Option<usize>,
    },
    /// Check the configuration end to end (exit 1 when anything is an error)
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Put HOST back in service (forced_down=false, enable) once its evacuation is over
    Recover {
        host: String,
        /// Even while its evacuation is still open
        #[arg(long)]
        force: bool,
    },
    /// Evacuate HOST now, with the same safety checks as NovaEvacuate
    Evacuate {
        host: String,
        /// Do not ask
        #[arg(long, short = 'y')]
        yes: bool,
        #[arg(long, value_parser = ["auto", "all", "tagged", "none"])]
        policy: Option<String>,
        #[arg(long, value_parser = ["skip", "evacuate"])]
        error_instances: Option<String>,
        /// Evacuate to this host instead of letting the scheduler choose
        #[arg(long, value_name = "HOST")]
        target_host: Option<String>,
    },
    /// Prometheus metrics (text format for node_exporter's textfile collector)
    Metrics {
        /// Write atomically to PATH instead of printing
        #[arg(long, short = 'o', value_name = "PATH")]
        output: Option<std::path::PathBuf>,
    },
}

/// The parameters `--from-cib` understands (NovaEvacuate's and
/// fence_compute's names, old spellings included).
static CIB_TABLE: &[Param] = &[
    AUTH_URL,
    USERNAME,
    PASSWORD,
    PASSWORD_SCRIPT,
    TENANT_NAME,
    USER_DOMAIN,
    PROJECT_DOMAIN,
    DOMAIN,
    COMPUTE_DOMAIN,
    ENDPOINT_TYPE,
    REGION_NAME,
    INSECURE,
    CLOUD,
    CLOUDS_YAML,
    CACERT,
    USER_ID,
    PROJECT_ID,
    APP_CRED_ID,
    APP_CRED_NAME,
    APP_CRED_SECRET,
    CONNECT_TIMEOUT,
    API_TIMEOUT,
    NO_SHARED_STORAGE,
    INSTANCE_FILTERING,
    EVACUATE_POLICY,
    ERROR_INSTANCES,
    COMPLETION,
    CONCURRENCY,
    MAX_ATTEMPTS,
    RETRY_BACKOFF,
    INSTANCE_TIMEOUT,
    TARGET_HOST,
];

/// What every command shares: options, and the settings read once.
pub struct Ctx {
    pub cli_cloud: Option<String>,
    pub from_cib: bool,
    /// Parameters from the CIB (with `--from-cib`), else empty.
    pub values: Values,
    /// Where they came from (`NovaEvacuate resource nova-evacuate`).
    pub source: String,
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

impl Ctx {
    fn new(cli: &Cli) -> Result<Ctx> {
        let mut values = Values::new(CIB_TABLE);
        let mut source = match &cli.cloud {
            Some(c) => format!("clouds.yaml entry '{c}'"),
            None if env("OS_CLOUD").is_some_and(|c| !c.is_empty()) => {
                format!("OS_CLOUD={}", env("OS_CLOUD").unwrap_or_default())
            }
            None => "OS_* environment".to_string(),
        };
        if cli.from_cib {
            let c = cib::Cib::query()?;
            let p = c
                .by_type("NovaEvacuate")
                .into_iter()
                .chain(c.by_type("fence_compute"))
                .next()
                .cloned()
                .ok_or_else(|| Error::config("--from-cib: the CIB has no NovaEvacuate resource and no fence_compute device"))?;
            for (k, v) in &p.params {
                if let Some(v) = cib::secret_value(&p.id, k, v) {
                    values.set(k, v, k);
                }
            }
            source = format!("{} {} (CIB)", p.agent(), p.id);
        }
        Ok(Ctx {
            cli_cloud: cli.cloud.clone(),
            from_cib: cli.from_cib,
            values,
            source,
        })
    }

    pub fn cloud_config(&self) -> Result<CloudConfig> {
        let cfg = if self.from_cib {
            cloud_params::cloud_config(&self.values, env)?
        } else if let Some(c) = &self.cli_cloud {
            CloudConfig::from_clouds_yaml_with(c, None, env)?
        } else {
            CloudConfig::load(env)?
        };
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn connect(&self) -> Result<(Nova, Glance)> {
        let s = Arc::new(Session::new(self.cloud_config()?)?);
        Ok((Nova::new(s.clone()), Glance::new(s)))
    }

    /// The DNS domain setting (from the CIB), for name mapping.
    pub fn domain(&self) -> Option<String> {
        cloud_params::dns_domain(&self.values)
    }

    /// Resolve an operator's host name to a Nova compute service.
    pub fn service(&self, nova: &Nova, name: &str) -> Result<Service> {
        let services = nova.compute_services(None)?;
        let hosts: Vec<String> = services.iter().map(|s| s.host.clone()).collect();
        let host = crate::hostmap::resolve(name, &hosts, self.domain().as_deref())?;
        Ok(services
            .into_iter()
            .find(|s| s.host == host)
            .expect("resolved from this list"))
    }
}

/// Run the command; returns the exit code (0 ok, 1 failure, 2 usage).
pub fn main(args: &[String]) -> i32 {
    let argv = std::iter::once("instance-ha".to_string()).chain(args.iter().cloned());
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    eprint!("{}", e.render());
                    return 2;
                }
                print!("{}", e.render());
                return 0;
            }
            let text = e.render().to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            eprintln!(
                "ERROR: {} (see instance-ha --help)",
                first.trim_start_matches("error: ")
            );
            return 2;
        }
    };
    let mut log = LogConfig::from_env("instance-ha", env);
    log.stderr = Some(if cli.verbose {
        Level::Debug
    } else {
        Level::Warn
    });
    log.debug = cli.verbose;
    crate::log::init(log);
    let result = Ctx::new(&cli).and_then(|ctx| run(&ctx, &cli.cmd));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ERROR: {}", crate::log::one_line(&e.to_string()));
            match e {
                Error::Usage(_) => 2,
                _ => 1,
            }
        }
    }
}

fn run(ctx: &Ctx, cmd: &Cmd) -> Result<i32> {
    match cmd {
        Cmd::Status {
            json,
            watch,
            iterations,
        } => status::run(ctx, *json, *watch, *iterations),
        Cmd::Plan {
            host,
            json,
            policy,
            error_instances,
        } => ops::plan(
            ctx,
            host,
            *json,
            policy.as_deref(),
            error_instances.as_deref(),
        ),
        Cmd::History { json, host, last } => history::run(*json, host.as_deref(), *last),
        Cmd::Check { json } => check::run(ctx, *json),
        Cmd::Recover { host, force } => ops::recover(ctx, host, *force),
        Cmd::Evacuate {
            host,
            yes,
            policy,
            error_instances,
            target_host,
        } => ops::evacuate(
            ctx,
            host,
            *yes,
            policy.as_deref(),
            error_instances.as_deref(),
            target_host.as_deref(),
        ),
        Cmd::Metrics { output } => ops::metrics(ctx, output.as_deref()),
    }
}

/// Fixed-width table: `rows[0]` is the header; the last column is not padded.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut w = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut s = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(c);
                line.push_str(&" ".repeat(w[i] - c.chars().count() + 2));
            }
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

/// `12.3s`, `4m05s`, `1h02m`.
pub fn duration(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else if secs < 3600.0 {
        format!("{}m{:02}s", (secs / 60.0) as u64, (secs % 60.0) as u64)
    } else {
        format!(
            "{}h{:02}m",
            (secs / 3600.0) as u64,
            ((secs % 3600.0) / 60.0) as u64
        )
    }
}

pub fn print_json(v: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(v)
        .map_err(|e| Error::config(format!("cannot serialise: {e}")))?;
    println!("{text}");
    Ok(())
}
