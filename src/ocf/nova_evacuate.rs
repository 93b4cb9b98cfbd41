//! `ocf:openstack:NovaEvacuate`: runs on one controller and evacuates every
//! compute host that fence_compute recorded.
//!
//! The reference polls attrd from its 10 s monitor, starts a Python
//! process per host and evacuates hosts one after the other. Here `start`
//! launches a helper that:
//!
//! * reads the `evacuate` attribute every `poll_interval` (250 ms), so a
//!   host recorded by fence_compute is picked up within a fraction of a
//!   second;
//! * reads Nova's services every `nova_poll_interval` for the durable
//!   record (`instance-ha: pending|evacuating|incomplete`), which survives
//!   attrd wiping a remote node and a move of this resource: a new owner
//!   carries every unfinished evacuation on, and the engine never sends a
//!   second request for an instance already in flight;
//! * evacuates up to `host_concurrency` hosts at once, only hosts that Nova
//!   shows down and the cluster has fenced, and stops loudly when more
//!   than `max_failed_share` of all compute hosts fail at once;
//! * reports a heartbeat that `monitor` checks.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::daemon::{Daemon, Heartbeat, DAEMON_ARG};
use super::{ActionSpec, Context, OcfAgent, Outcome, ERR_GENERIC};
use crate::cloud_params::{self, *};
use crate::engine::params::*;
use crate::engine::{host, run::Event};
use crate::error::{Error, Result};
use crate::fence::common::NO_SHARED_STORAGE;
use crate::hostmap;
use crate::openstack::{Glance, Nova, Service, Session};
use crate::pacemaker::{attrd, cluster};
use crate::params::{Kind, Param};
use crate::state::{Marker, Phase};
use crate::time::{now, now_f64};

pub const VERBOSE: Param = Param {
    long: Some("verbose"),
    kind: Kind::Bool,
    default: Some("false"),
    ..Param::new("verbose", "Debug logging")
};
pub const POLL_INTERVAL: Param = Param {
    long: Some("poll-interval"),
    kind: Kind::Seconds,
    default: Some("0.25"),
    longdesc: "How often the helper reads the 'evacuate' node attribute (one attrd_updater call, a few milliseconds).",
    ..Param::new("poll_interval", "Seconds between attrd reads")
};
pub const NOVA_POLL_INTERVAL: Param = Param {
    long: Some("nova-poll-interval"),
    kind: Kind::Seconds,
    default: Some("5"),
    longdesc: "How often the helper reads Nova's compute services for hosts whose evacuation is recorded in Nova but not in attrd (after a move of this resource or a remote node reconnecting).",
    ..Param::new("nova_poll_interval", "Seconds between Nova service reads")
};
pub const HOST_CONCURRENCY: Param = Param {
    long: Some("host-concurrency"),
    kind: Kind::Int,
    default: Some("32"),
    longdesc: "Hosts evacuated at the same time. The load on Nova is bounded by concurrency (requests in flight across all hosts), and the mass-failure guard bounds how many hosts may fail at once, so this only needs to be large enough that no failed host waits for another one's instances to be rebuilt.",
    ..Param::new("host_concurrency", "Hosts evacuated at the same time")
};
pub const MAX_FAILED_SHARE: Param = Param {
    long: Some("max-failed-share"),
    kind: Kind::Int,
    default: Some("50"),
    longdesc: "Mass-failure guard, in percent: when more than this share of all compute hosts wait for evacuation at the same time, evacuate none of the new ones and say so every minute (a network or storage outage looks like many dead hosts; evacuating then would storm Nova and the storage). 0 disables the guard.",
    ..Param::new("max_failed_share", "Percent of compute hosts beyond which nothing more is evacuated")
};
pub const REQUIRE_FENCING: Param = Param {
    long: Some("require-fencing"),
    kind: Kind::Bool,
    default: Some("true"),
    longdesc: "Only evacuate a host after Pacemaker's fencing history shows it fenced (off or reboot, successful) since it was recorded. Set false only when compute hosts are not cluster nodes.",
    ..Param::new("require_fencing", "Evacuate only hosts the cluster has fenced")
};
pub const RETRY_INTERVAL: Param = Param {
    long: Some("retry-interval"),
    kind: Kind::Seconds,
    default: Some("60"),
    longdesc: "After an incomplete evacuation, wait this long before trying the host again; doubled each time up to 16 times.",
    ..Param::new("retry_interval", "Seconds before retrying an incomplete evacuation")
};

static TABLE: &[Param] = &[
    AUTH_URL,
    USERNAME,
    PASSWORD,
    PASSWORD_SCRIPT,
    TENANT_NAME,
    USER_DOMAIN,
    PROJECT_DOMAIN,
    DOMAIN,
    ENDPOINT_TYPE,
    REGION_NAME,
    INSECURE,
    NO_SHARED_STORAGE,
    VERBOSE,
    EVACUATE_DELAY,
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
    EVACUATE_POLICY,
    ERROR_INSTANCES,
    CONCURRENCY,
    MAX_ATTEMPTS,
    RETRY_BACKOFF,
    INSTANCE_TIMEOUT,
    TARGET_HOST,
    POLL_INTERVAL,
    NOVA_POLL_INTERVAL,
    HOST_CONCURRENCY,
    MAX_FAILED_SHARE,
    REQUIRE_FENCING,
    RETRY_INTERVAL,
    crate::metrics::METRICS_FILE,
];

static ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "start",
        timeout: "60s",
        interval: None,
        depth: None,
    },
    ActionSpec {
        name: "stop",
        timeout: "30s",
        interval: None,
        depth: None,
    },
    ActionSpec {
        name: "monitor",
        timeout: "20s",
        interval: Some("10s"),
        depth: Some(0),
    },
    ActionSpec {
        name: "validate-all",
        timeout: "20s",
        interval: None,
        depth: None,
    },
    ActionSpec {
        name: "meta-data",
        timeout: "5s",
        interval: None,
        depth: None,
    },
];

/// A heartbeat older than this means the helper is stuck.
const STALE: f64 = 30.0;

pub struct NovaEvacuate;

fn daemon(ctx: &Context) -> Daemon {
    Daemon::new(&ctx.rsc_tmp, "NovaEvacuate", &ctx.instance)
}

impl OcfAgent for NovaEvacuate {
    fn name(&self) -> &'static str {
        "NovaEvacuate"
    }
    fn shortdesc(&self) -> &'static str {
        "Evacuates the instances of fenced compute hosts"
    }
    fn longdesc(&self) -> &'static str {
        "Runs on one controller (a primitive, not a clone) and evacuates every compute host that fence_compute recorded (attrd attribute 'evacuate', and the durable record fence_compute keeps in the Nova service's disabled_reason), several hosts at a time, each instance followed until it runs elsewhere in the state it had, with retries, a mass-failure guard, and a check that the cluster really fenced the host. Parameters are a superset of the reference agent's."
    }
    fn table(&self) -> &'static [Param] {
        TABLE
    }
    fn actions(&self) -> &'static [ActionSpec] {
        ACTIONS
    }
    fn validate(&self, ctx: &Context) -> Result<()> {
        cloud_params::cloud_config(&ctx.values, |k| std::env::var(k).ok())?;
        host_options(&ctx.values)?;
        let share = ctx.values.int("max_failed_share")?.unwrap_or(50);
        if !(0..=100).contains(&share) {
            return Err(Error::usage(format!(
                "max_failed_share must be 0..100, not {share}"
            )));
        }
        Ok(())
    }
    fn start(&self, ctx: &Context) -> Outcome {
        let d = daemon(ctx);
        let ready = ctx
            .timeout
            .map(|t| t.saturating_sub(Duration::from_secs(5)))
            .unwrap_or(Duration::from_secs(50))
            .max(Duration::from_secs(5));
        match d.start(ready) {
            Ok(pid) => {
                crate::info!("started helper pid {pid}");
                Outcome::ok()
            }
            Err(e) => Outcome::fail(ERR_GENERIC, format!("helper did not start: {e}")),
        }
    }
    fn stop(&self, ctx: &Context) -> Outcome {
        let grace = ctx
            .timeout
            .map(|t| t.saturating_sub(Duration::from_secs(8)))
            .unwrap_or(Duration::from_secs(20))
            .max(Duration::from_secs(2));
        match daemon(ctx).stop(grace) {
            Ok(()) => Outcome::ok(),
            Err(e) => Outcome::fail(ERR_GENERIC, e.to_string()),
        }
    }
    fn monitor(&self, ctx: &Context) -> Outcome {
        let d = daemon(ctx);
        match d.pid() {
            // A probe after the node came back (HA_RSCTMP kept, process
            // gone) asks whether it runs here: it does not. Reporting an
            // error made Pacemaker stop and recover it a minute later
            // (controller-dies scenario).
            None if d.pidfile_exists() && ctx.probe => {
                crate::info!("probe: helper not running (stale pid file from before)");
                Outcome::not_running()
            }
            None if d.pidfile_exists() => Outcome::fail(ERR_GENERIC, "helper process died"),
            None => Outcome::not_running(),
            Some(pid) => match d.heartbeat() {
                Some(hb) if now_f64() - hb.time <= STALE => {
                    for a in &hb.alerts {
                        crate::warn!("{a}");
                    }
                    if ctx.check_level >= 10 {
                        if let Some(e) = hb.nova_error.as_deref() {
                            return Outcome::fail(ERR_GENERIC, format!("Nova unreachable: {e}"));
                        }
                    }
                    Outcome::ok()
                }
                Some(hb) => Outcome::fail(
                    ERR_GENERIC,
                    format!(
                        "helper {pid} stuck: last heartbeat {:.0}s ago",
                        now_f64() - hb.time
                    ),
                ),
                None => Outcome::fail(ERR_GENERIC, format!("helper {pid} writes no heartbeat")),
            },
        }
    }
}

/// Entry point of the agent binary.
pub fn main(args: &[String]) -> i32 {
    if args.first().map(String::as_str) == Some(DAEMON_ARG) {
        return run_daemon();
    }
    super::run(&NovaEvacuate, args)
}

static TERM: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: nix::libc::c_int) {
    TERM.store(true, Ordering::SeqCst);
}

fn install_sigterm() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let sa = SigAction::new(
        SigHandler::Handler(on_term),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        let _ = sigaction(Signal::SIGTERM, &sa);
        let _ = sigaction(Signal::SIGINT, &sa);
    }
}

/// Why a host is (or is not yet) being evacuated.
#[derive(Debug, Default)]
struct Candidates {
    /// Nova host -> where we learnt it (for the log).
    hosts: HashMap<String, &'static str>,
}

struct Worker {
    handle: JoinHandle<()>,
    /// Set by the worker: did the evacuation succeed?
    ok: Arc<Mutex<Option<bool>>>,
}

struct Helper {
    nova: Arc<Nova>,
    glance: Arc<Glance>,
    ctx: Context,
    me: String,
    opts: host::HostOptions,
    domain: Option<String>,
    require_fencing: bool,
    share: i64,
    host_concurrency: usize,
    retry_interval: Duration,
    workers: HashMap<String, Worker>,
    /// host -> (not before, failures so far)
    backoff: HashMap<String, (Instant, u32)>,
    last_outcome: Arc<Mutex<Vec<(String, String)>>>,
    services: Vec<Service>,
    services_at: Option<Instant>,
    /// The cloud's evacuable tags, refreshed with the services (so a failed
    /// host is planned at once).
    catalog: Option<crate::engine::select::Tagged>,
    catalog_at: Option<Instant>,
    nova_ok: Option<f64>,
    nova_error: Option<String>,
    alerts: Vec<String>,
    said: HashMap<String, Instant>,
}

fn run_daemon() -> i32 {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let ctx = match super::context(TABLE, &["start".to_string()], env.clone(), String::new) {
        Ok(c) => c,
        Err(_) => return 1,
    };
    let tag = format!("NovaEvacuate({})", ctx.instance);
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut cfg = crate::log::LogConfig::from_env(&tag, get).detached(get);
    cfg.debug = ctx.values.flag("verbose").unwrap_or(false);
    crate::log::init(cfg);
    install_sigterm();
    match Helper::new(ctx) {
        Ok(mut h) => {
            h.run();
            0
        }
        Err(e) => {
            crate::error!("helper cannot start: {e}");
            1
        }
    }
}

impl Helper {
    fn new(ctx: Context) -> Result<Helper> {
        let cfg = cloud_params::cloud_config(&ctx.values, |k| std::env::var(k).ok())?;
        let session = Arc::new(Session::new(cfg)?);
        let v = &ctx.values;
        Ok(Helper {
            nova: Arc::new(Nova::new(session.clone())),
            glance: Arc::new(Glance::new(session)),
            me: ctx.local_node(),
            opts: {
                // `concurrency` bounds requests in flight across every host
                // this helper evacuates: one limiter shared by all runs.
                let mut o = host_options(v)?;
                o.run.limiter = Some(crate::engine::Limiter::new(o.run.concurrency));
                o
            },
            domain: cloud_params::dns_domain(v),
            require_fencing: v.flag("require_fencing")?,
            share: v.int("max_failed_share")?.unwrap_or(50),
            host_concurrency: v.int("host_concurrency")?.unwrap_or(32).clamp(1, 256) as usize,
            retry_interval: v
                .duration("retry_interval")?
                .unwrap_or(Duration::from_secs(60)),
            workers: HashMap::new(),
            backoff: HashMap::new(),
            last_outcome: Arc::new(Mutex::new(Vec::new())),
            services: Vec::new(),
            services_at: None,
            catalog: None,
            catalog_at: None,
            nova_ok: None,
            nova_error: None,
            alerts: Vec::new(),
            said: HashMap::new(),
            ctx,
        })
    }

    /// Log `msg` at most once a minute per `key` (loud but not a flood).
    fn say(&mut self, key: &str, msg: &str, error: bool) {
        let due = self
            .said
            .get(key)
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(60));
        if due {
            if error {
                crate::error!("{msg}");
            } else {
                crate::warn!("{msg}");
            }
            self.said.insert(key.to_string(), Instant::now());
        }
    }

    fn refresh_services(&mut self) {
        match self.nova.compute_services(None) {
            Ok(s) => {
                self.services = s;
                self.services_at = Some(Instant::now());
                self.nova_ok = Some(now_f64());
                self.nova_error = None;
            }
            Err(e) => {
                self.nova_error = Some(e.to_string());
                self.say("nova", &format!("cannot read Nova services: {e}"), false);
            }
        }
    }

    fn heartbeat(&self, d: &Daemon) {
        let mut evacuating: Vec<String> = self.workers.keys().cloned().collect();
        evacuating.sort();
        d.write_heartbeat(&Heartbeat {
            pid: std::process::id(),
            time: now_f64(),
            nova_ok: self.nova_ok,
            nova_error: self.nova_error.clone(),
            evacuating,
            last: self
                .last_outcome
                .lock()
                .map(|l| l.clone())
                .unwrap_or_default(),
            alerts: self.alerts.clone(),
        });
        if let Some(p) = self.ctx.values.get("metrics_file") {
            crate::metrics::helper_tick(p, &self.services, now_f64());
        }
    }

    fn candidates(&mut self) -> Candidates {
        let mut c = Candidates::default();
        match attrd::query_all(attrd::EVACUATE) {
            Ok(values) => {
                for (name, value) in values {
                    match attrd::parse_mark(&value) {
                        attrd::Mark::Yes => {
                            c.hosts.insert(name, "attrd evacuate=yes");
                        }
                        // Someone (us before a restart, or the previous owner
                        // of this resource) was evacuating it: carry on.
                        attrd::Mark::InProgress { .. } => {
                            c.hosts.insert(name, "attrd evacuation in progress");
                        }
                        _ => {}
                    }
                }
            }
            Err(e) => self.say(
                "attrd",
                &format!("cannot read the evacuate attribute: {e}"),
                false,
            ),
        }
        // Fresh services when attrd shows work (to resolve names and check
        // state), else at the Nova poll interval.
        let nova_every = self
            .ctx
            .values
            .duration("nova_poll_interval")
            .ok()
            .flatten()
            .unwrap_or(Duration::from_secs(5));
        let stale = self.services_at.is_none_or(|t| t.elapsed() >= nova_every);
        let new_work = c.hosts.keys().any(|h| !self.workers.contains_key(h))
            && self
                .services_at
                .is_none_or(|t| t.elapsed() >= Duration::from_millis(200));
        if stale || new_work {
            self.refresh_services();
        }
        for s in &self.services {
            if let Some(m) = Marker::parse(s.disabled_reason.as_deref()) {
                if m.phase.evacuation_open() {
                    c.hosts
                        .entry(s.host.clone())
                        .or_insert("Nova records the evacuation as open");
                }
            }
        }
        c
    }

    /// Has the cluster fenced the node behind Nova host `host` since `since`?
    /// Pacemaker keeps fencing history under the target name it was asked
    /// to fence: the cluster node's name, which may be the Nova host name,
    /// its short form, or a remote node whose name maps to it.
    fn fenced(&mut self, host: &str, since: u64) -> std::result::Result<bool, String> {
        let mut names = vec![host.to_string(), hostmap::short(host).to_string()];
        if let Ok(nodes) = cluster::nodes() {
            let list: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
            if let Ok(n) = hostmap::resolve(host, &list, None) {
                names.push(n);
            }
        }
        names.sort();
        names.dedup();
        // Per name: `stonith_admin --history '*'` was seen listing one
        // event only (Pacemaker 2.1.5), so never rely on the wildcard.
        let mut errors = Vec::new();
        for n in &names {
            match cluster::fence_history(Some(n)) {
                Ok(h) if cluster::last_fenced(&h, n).is_some_and(|t| t + 300 >= since) => {
                    return Ok(true)
                }
                Ok(_) => {}
                Err(e) => errors.push(e.to_string()),
            }
        }
        if errors.len() == names.len() {
            return Err(errors.join("; "));
        }
        Ok(false)
    }

    /// Refresh the evacuable catalog in idle time (after dispatching), every
    /// few seconds: it changes rarely, and an evacuation must not wait for
    /// every flavor and image to be listed. A tag added in the last seconds
    /// before a failure may be missed by that evacuation (documented).
    fn refresh_catalog(&mut self) {
        let every = self
            .ctx
            .values
            .duration("nova_poll_interval")
            .ok()
            .flatten()
            .unwrap_or(Duration::from_secs(5));
        if self.catalog_at.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.catalog_at = Some(Instant::now());
        match crate::engine::plan::tagged_catalog(&self.nova, Some(&self.glance), &self.opts.policy)
        {
            Ok(t) => self.catalog = Some(t),
            Err(e) => {
                self.catalog = None;
                crate::debug!("cannot read the evacuable catalog now ({e}); evacuations will read it themselves");
            }
        }
    }

    fn reap(&mut self) {
        let done: Vec<String> = self
            .workers
            .iter()
            .filter(|(_, w)| w.handle.is_finished())
            .map(|(h, _)| h.clone())
            .collect();
        for h in done {
            if let Some(w) = self.workers.remove(&h) {
                let _ = w.handle.join();
                // Our snapshot of Nova predates the end of this evacuation:
                // deciding from it would start the same host again.
                self.services_at = None;
                // A success forgets earlier failures: a new incident on
                // this host must not wait for an old backoff.
                if w.ok.lock().map(|o| *o == Some(true)).unwrap_or(false) {
                    self.backoff.remove(&h);
                }
            }
        }
    }

    fn run(&mut self) {
        let d = Daemon::new(&self.ctx.rsc_tmp, "NovaEvacuate", &self.ctx.instance);
        let poll = self
            .ctx
            .values
            .duration("poll_interval")
            .ok()
            .flatten()
            .unwrap_or(Duration::from_millis(250))
            .max(Duration::from_millis(50));
        crate::info!(
            "helper running on {} (attrd every {:.2}s)",
            self.me,
            poll.as_secs_f64()
        );
        self.refresh_services();
        while !TERM.load(Ordering::SeqCst) {
            let t = Instant::now();
            self.reap();
            let c = self.candidates();
            self.alerts.clear();
            self.dispatch(c);
            self.refresh_catalog();
            self.heartbeat(&d);
            let spent = t.elapsed();
            if spent < poll {
                std::thread::sleep(poll - spent);
            }
        }
        crate::info!(
            "helper stopping ({} evacuation(s) in progress will be carried on by the next owner)",
            self.workers.len()
        );
    }

    fn dispatch(&mut self, c: Candidates) {
        let total = self.services.len().max(1);
        let waiting: HashSet<String> = c.hosts.keys().cloned().collect();
        let limit = if self.share == 0 {
            usize::MAX
        } else {
            ((total as i64 * self.share) / 100).max(1) as usize
        };
        if waiting.len() > limit {
            let mut list: Vec<&String> = waiting.iter().collect();
            list.sort();
            let msg = format!(
                "MASS FAILURE GUARD: {} of {} compute hosts wait for evacuation (more than max_failed_share={}%): not starting any new evacuation. Check the network and storage; evacuate hosts one by one with 'instance-ha evacuate HOST' if they are really dead. Hosts: {}",
                waiting.len(),
                total,
                self.share,
                list.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            );
            self.alerts.push(msg.clone());
            self.say("mass", &msg, true);
            return;
        }
        let mut names: Vec<(String, &'static str)> = c.hosts.into_iter().collect();
        names.sort();
        for (name, why) in names {
            if self.workers.len() >= self.host_concurrency {
                break;
            }
            let hosts: Vec<String> = self.services.iter().map(|s| s.host.clone()).collect();
            let host = match hostmap::resolve(&name, &hosts, self.domain.as_deref()) {
                Ok(h) => h,
                Err(e) => {
                    self.say(
                        &format!("resolve-{name}"),
                        &format!("{name} is marked for evacuation but: {e}"),
                        true,
                    );
                    continue;
                }
            };
            if self.workers.contains_key(&host) || self.workers.contains_key(&name) {
                continue;
            }
            if let Some((not_before, _)) = self.backoff.get(&host) {
                if Instant::now() < *not_before {
                    continue;
                }
            }
            let Some(svc) = self.services.iter().find(|s| s.host == host).cloned() else {
                continue;
            };
            if let Err(e) = host::check_down(&svc) {
                self.say(
                    &format!("up-{host}"),
                    &format!("{name} is marked for evacuation ({why}) but {e}"),
                    true,
                );
                continue;
            }
            let marker = Marker::parse(svc.disabled_reason.as_deref());
            if self.require_fencing {
                let since = marker
                    .as_ref()
                    .map(|m| m.since)
                    .filter(|s| *s > 0)
                    .unwrap_or_else(|| now().saturating_sub(3600));
                match self.fenced(&host, since) {
                    Ok(true) => {}
                    Ok(false) => {
                        let msg = format!("{host}: marked for evacuation ({why}) but Pacemaker's history shows no completed fencing since it failed: waiting");
                        self.alerts.push(msg.clone());
                        self.say(&format!("fence-{host}"), &msg, false);
                        continue;
                    }
                    Err(e) => {
                        let msg = format!("{host}: cannot confirm fencing ({e}): waiting (set require_fencing=false if computes are not cluster nodes)");
                        self.alerts.push(msg.clone());
                        self.say(&format!("fence-{host}"), &msg, true);
                        continue;
                    }
                }
            }
            self.spawn(name, host, why, marker.map(|m| m.phase));
        }
    }

    fn spawn(&mut self, attr_name: String, host: String, why: &'static str, phase: Option<Phase>) {
        crate::info!(
            "{host}: evacuating ({why}{})",
            phase
                .map(|p| format!(", Nova: {}", p.name()))
                .unwrap_or_default()
        );
        let nova = self.nova.clone();
        let glance = self.glance.clone();
        let mut opts = self.opts.clone();
        opts.catalog = self.catalog.clone();
        let me = self.me.clone();
        let last = self.last_outcome.clone();
        let h = host.clone();
        let failures = self.backoff.get(&host).map(|b| b.1).unwrap_or(0);
        let retry_interval = self.retry_interval;
        let ok_flag = Arc::new(Mutex::new(None::<bool>));
        let result = ok_flag.clone();
        let handle = std::thread::spawn(move || {
            let mark = format!("{me}@{}", now());
            if let Err(e) = attrd::set(&attr_name, attrd::EVACUATE, &mark) {
                crate::warn!("{h}: cannot set evacuate={mark}: {e}");
            }
            let outcome = host::evacuate(&nova, Some(&glance), &h, &opts, &me, &|e: &Event| {
                host::log_event(&h, e)
            });
            let (ok, text) = match outcome {
                Ok(r) if r.success() => (true, r.summary()),
                Ok(r) => (false, r.summary()),
                Err(e) => (false, format!("{h}: {e}")),
            };
            // Reference semantics for mixed deployments: no = done, yes = to do.
            let value = if ok { "no" } else { "yes" };
            if let Err(e) = attrd::set(&attr_name, attrd::EVACUATE, value) {
                crate::warn!("{h}: cannot set evacuate={value}: {e}");
            }
            if !ok {
                crate::error!("{h}: evacuation incomplete: {text}");
            }
            if let Ok(mut l) = last.lock() {
                l.retain(|(x, _)| x != &h);
                l.push((h.clone(), text));
            }
            if let Ok(mut b) = result.lock() {
                *b = Some(ok);
            }
        });
        // Next try (if this one fails) only after the retry interval, doubled per failure.
        let wait = retry_interval * 2u32.saturating_pow(failures.min(4));
        self.backoff
            .insert(host.clone(), (Instant::now() + wait, failures + 1));
        self.workers.insert(
            host,
            Worker {
                handle,
                ok: ok_flag,
            },
        );
    }
}

pub fn probe_not_running() -> Outcome {
    Outcome::not_running()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocf::NOT_RUNNING;

    #[test]
    fn table_has_every_reference_parameter() {
        for p in [
            "auth_url",
            "username",
            "password",
            "tenant_name",
            "user_domain",
            "project_domain",
            "domain",
            "endpoint_type",
            "region_name",
            "insecure",
            "no_shared_storage",
            "verbose",
            "evacuate_delay",
        ] {
            assert!(TABLE.iter().any(|t| t.name == p), "{p} missing");
        }
    }

    #[test]
    fn probe_outcome() {
        assert_eq!(probe_not_running().code, NOT_RUNNING);
    }
}
