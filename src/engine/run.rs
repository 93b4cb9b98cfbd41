//! Executing a plan.
//!
//! `concurrency` worker threads send the evacuate requests (highest
//! priority first); the calling thread follows every requested instance
//! through the host's evacuation migration records (one call per poll,
//! whatever the number of instances) and confirms each arrival with one
//! read of the server. Failed attempts are retried with exponential
//! backoff, a bounded number of times.
//!
//! Why a bound on requests and not on instances in flight: Nova queues
//! evacuations itself and the destination computes work through them one
//! claim at a time, so what limits the time to recovery is how soon every
//! request has reached Nova. The bound only keeps us from opening more
//! connections than nova-api has workers for (default 16: several times a
//! typical API worker count, small enough never to be a storm).

use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::plan::Plan;
use super::report::{InstanceReport, Outcome, Report};
use super::select::{Decision, Expect};
use crate::error::Error;
use crate::openstack::{EvacuateOptions, Microversion, Migration, MigrationFilter, Nova};
use crate::time::{now, parse_datetime};

/// A bound on requests in flight shared by several runs: NovaEvacuate
/// evacuates many hosts at once, and what must stay bounded is the load on
/// nova-api, not the number of hosts. While one host waits for Nova to
/// rebuild its instances, the others use the permits.
pub struct Limiter {
    permits: usize,
    used: Mutex<usize>,
    freed: Condvar,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Limiter({})", self.permits)
    }
}

pub struct Permit<'a>(&'a Limiter);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut u = self.0.used.lock().unwrap_or_else(|e| e.into_inner());
        *u -= 1;
        self.0.freed.notify_one();
    }
}

impl Limiter {
    pub fn new(permits: usize) -> std::sync::Arc<Limiter> {
        std::sync::Arc::new(Limiter {
            permits: permits.max(1),
            used: Mutex::new(0),
            freed: Condvar::new(),
        })
    }
    pub fn acquire(&self) -> Permit<'_> {
        let mut u = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *u >= self.permits {
            u = self.freed.wait(u).unwrap_or_else(|e| e.into_inner());
        }
        *u += 1;
        Permit(self)
    }
    pub fn permits(&self) -> usize {
        self.permits
    }
}

/// Take a permit from the shared limiter, if there is one.
fn permit(cfg: &RunConfig) -> Option<Permit<'_>> {
    cfg.limiter.as_deref().map(Limiter::acquire)
}

/// When an evacuation counts as successful.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Nova accepted every request (the reference's notion; fast, blind).
    Accepted,
    /// Every instance runs on another host in the state it had.
    Arrived,
}

impl Completion {
    pub fn parse(s: &str) -> crate::Result<Completion> {
        match s.trim().to_ascii_lowercase().as_str() {
            "accepted" => Ok(Completion::Accepted),
            "arrived" | "" => Ok(Completion::Arrived),
            other => Err(Error::usage(format!(
                "invalid completion '{other}': expected accepted or arrived"
            ))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Evacuate requests sent at the same time.
    pub concurrency: usize,
    /// Attempts per instance (the first one included).
    pub max_attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub retry_backoff: Duration,
    /// From request to arrival, per attempt.
    pub instance_timeout: Duration,
    pub poll_interval: Duration,
    pub completion: Completion,
    /// Sent below microversion 2.14 only.
    pub on_shared_storage: bool,
    /// Target (reserved) host; None lets the scheduler choose.
    pub target_host: Option<String>,
    pub microversion: Option<Microversion>,
    /// Who runs it (for the report and the log).
    pub by: String,
    /// When the host was fenced: migration records older than this belong
    /// to earlier failures.
    pub since: Option<u64>,
    /// Shared with other runs (see `Limiter`); `concurrency` still bounds
    /// this run's own requests.
    pub limiter: Option<std::sync::Arc<Limiter>>,
}

impl Default for RunConfig {
    fn default() -> RunConfig {
        RunConfig {
            concurrency: 16,
            max_attempts: 3,
            retry_backoff: Duration::from_secs(5),
            instance_timeout: Duration::from_secs(900),
            poll_interval: Duration::from_secs(1),
            completion: Completion::Arrived,
            on_shared_storage: false,
            target_host: None,
            microversion: None,
            by: "instance-ha".into(),
            since: None,
            limiter: None,
        }
    }
}

/// Progress, one per thing that happens (each becomes one log line).
#[derive(Debug, Clone)]
pub enum Event<'a> {
    Skipped {
        id: &'a str,
        name: &'a str,
        reason: &'a str,
    },
    Resumed {
        id: &'a str,
        name: &'a str,
    },
    AlreadyEvacuated {
        id: &'a str,
        to: &'a str,
    },
    Requested {
        id: &'a str,
        name: &'a str,
        attempt: u32,
    },
    Started {
        id: &'a str,
        name: &'a str,
        host: &'a str,
    },
    Arrived {
        id: &'a str,
        name: &'a str,
        to: &'a str,
        status: &'a str,
        seconds: f64,
    },
    Retrying {
        id: &'a str,
        name: &'a str,
        attempt: u32,
        after: Duration,
        reason: &'a str,
    },
    Failed {
        id: &'a str,
        name: &'a str,
        reason: &'a str,
    },
}

/// Migration states in which Nova is still working on the evacuation.
const ACTIVE_MIGRATION: &[&str] = &[
    "accepted",
    "queued",
    "preparing",
    "pre-migrating",
    "migrating",
    "running",
];
const FAILED_MIGRATION: &[&str] = &["failed", "error"];

#[derive(Debug, Clone)]
enum State {
    /// Waiting to be (re)sent, not before `not_before`.
    Pending {
        not_before: Instant,
    },
    Queued,
    /// Evacuating; `since` is when it was requested (or found running).
    Requested {
        since: Instant,
        since_epoch: u64,
        start_sent: bool,
    },
    Done,
}

struct Item {
    idx: usize,
    id: String,
    name: String,
    expect: Expect,
    status_before: String,
    state: State,
    attempts: u32,
    requests: u32,
    first_request: Option<Instant>,
    /// Wall-clock time of the first request, to match migration records.
    first_epoch: Option<u64>,
    outcome: Option<Outcome>,
    status_after: Option<String>,
}

fn latest(migs: &[Migration], instance: &str, not_before: Option<u64>) -> Option<Migration> {
    migs.iter()
        .filter(|m| m.instance_uuid == instance)
        .filter(
            |m| match (not_before, m.created_at.as_deref().and_then(parse_datetime)) {
                (Some(nb), Some(c)) => c + 30 >= nb,
                _ => true,
            },
        )
        .max_by_key(|m| {
            (
                m.created_at
                    .as_deref()
                    .and_then(parse_datetime)
                    .unwrap_or(0),
                m.id.parse::<u64>().unwrap_or(0),
            )
        })
        .cloned()
}

struct Queue {
    items: Mutex<(VecDeque<(usize, String)>, bool)>,
    ready: Condvar,
}

impl Queue {
    fn push(&self, idx: usize, id: String) {
        let mut g = self.items.lock().unwrap_or_else(|e| e.into_inner());
        g.0.push_back((idx, id));
        self.ready.notify_one();
    }
    fn close(&self) {
        let mut g = self.items.lock().unwrap_or_else(|e| e.into_inner());
        g.1 = true;
        self.ready.notify_all();
    }
    fn pop(&self) -> Option<(usize, String)> {
        let mut g = self.items.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(x) = g.0.pop_front() {
                return Some(x);
            }
            if g.1 {
                return None;
            }
            g = self.ready.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Evacuate `plan` and follow it to the end.
pub fn evacuate(
    nova: &Nova,
    plan: &Plan,
    cfg: &RunConfig,
    observe: &(dyn Fn(&Event) + Sync),
) -> Report {
    let t0 = Instant::now();
    let started = now();
    let host = plan.host.as_str();
    let mut report = Report {
        host: host.to_string(),
        by: cfg.by.clone(),
        started,
        seconds: 0.0,
        microversion: None,
        instances: Vec::new(),
    };

    for s in &plan.skipped {
        observe(&Event::Skipped {
            id: &s.id,
            name: &s.name,
            reason: &s.reason,
        });
        report.instances.push(InstanceReport {
            id: s.id.clone(),
            name: s.name.clone(),
            status_before: s.status.clone(),
            status_after: None,
            attempts: 0,
            requests: 0,
            outcome: Outcome::Skipped {
                reason: s.reason.clone(),
            },
        });
    }

    // What Nova already knows decides what we may send.
    let history = match nova.migrations(&MigrationFilter::evacuations_from(host)) {
        Ok(m) => m,
        Err(e) => {
            // Without the records we cannot promise not to evacuate twice.
            let reason = format!("cannot read the evacuation records of {host}: {e}");
            for p in &plan.selected {
                observe(&Event::Failed {
                    id: &p.id,
                    name: &p.name,
                    reason: &reason,
                });
                report.instances.push(InstanceReport {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    status_before: p.status.clone(),
                    status_after: None,
                    attempts: 0,
                    requests: 0,
                    outcome: Outcome::Failed {
                        reason: reason.clone(),
                    },
                });
            }
            report.seconds = t0.elapsed().as_secs_f64();
            return report;
        }
    };

    // Instances moved by an earlier run are no longer on the host.
    if let Some(since) = cfg.since {
        let planned: std::collections::HashSet<&str> = plan
            .selected
            .iter()
            .chain(&plan.skipped)
            .map(|p| p.id.as_str())
            .collect();
        let mut seen = std::collections::HashSet::new();
        for m in &history {
            if planned.contains(m.instance_uuid.as_str()) || !seen.insert(m.instance_uuid.clone()) {
                continue;
            }
            let recent = m
                .created_at
                .as_deref()
                .and_then(parse_datetime)
                .is_some_and(|c| c + 30 >= since);
            if !recent {
                continue;
            }
            if let Ok(s) = nova.get_server(&m.instance_uuid) {
                if let Some(to) = s.host.as_deref().filter(|h| *h != host) {
                    observe(&Event::AlreadyEvacuated { id: &s.id, to });
                    report.instances.push(InstanceReport {
                        id: s.id.clone(),
                        name: s.name.clone(),
                        status_before: "?".into(),
                        status_after: Some(s.status.clone()),
                        attempts: 0,
                        requests: 0,
                        outcome: Outcome::AlreadyEvacuated { to: to.to_string() },
                    });
                }
            }
        }
    }

    let mut items: Vec<Item> = Vec::new();
    for (idx, p) in plan.selected.iter().enumerate() {
        let expect = p.expect.unwrap_or(Expect::Active);
        let in_flight = matches!(p.decision, Decision::InFlight { .. })
            || latest(&history, &p.id, cfg.since)
                .is_some_and(|m| ACTIVE_MIGRATION.contains(&m.status.as_str()));
        let state = if in_flight {
            observe(&Event::Resumed {
                id: &p.id,
                name: &p.name,
            });
            State::Requested {
                since: Instant::now(),
                since_epoch: now().saturating_sub(1),
                start_sent: false,
            }
        } else {
            State::Pending {
                not_before: Instant::now(),
            }
        };
        items.push(Item {
            idx,
            id: p.id.clone(),
            name: p.name.clone(),
            expect,
            status_before: p.status.clone(),
            state,
            attempts: u32::from(in_flight),
            requests: 0,
            first_request: None,
            first_epoch: None,
            outcome: None,
            status_after: None,
        });
    }

    let opts = EvacuateOptions {
        host: cfg.target_host.clone(),
        on_shared_storage: cfg.on_shared_storage,
        microversion: cfg.microversion,
    };
    let queue = Queue {
        items: Mutex::new((VecDeque::new(), false)),
        ready: Condvar::new(),
    };
    let (tx, rx) = mpsc::channel::<(usize, Result<crate::openstack::Evacuation, Error>)>();
    let mut used_version: Option<Microversion> = None;

    std::thread::scope(|scope| {
        for _ in 0..cfg.concurrency.max(1) {
            let tx = tx.clone();
            let queue = &queue;
            let opts = &opts;
            scope.spawn(move || {
                while let Some((idx, id)) = queue.pop() {
                    let r = {
                        let _p = permit(cfg);
                        nova.evacuate(&id, opts)
                    };
                    if tx.send((idx, r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);

        let mut last_poll = Instant::now() - cfg.poll_interval;
        // A poll that saw instances arrive is followed at once by the next
        // one: arrivals come in waves while requests are being accepted,
        // and waiting a whole interval after each wave left the bound idle
        // (bench/scale.rs: a 1.5 s tail of single reads). A poll that saw
        // nothing new waits the interval, so a slow evacuation costs one
        // migration read per host per interval, as before.
        let mut progressed = false;
        loop {
            let now_i = Instant::now();
            // Send what is due.
            for it in items.iter_mut() {
                if let State::Pending { not_before } = it.state {
                    if not_before <= now_i {
                        // A retry: the previous request may have reached
                        // Nova even if its answer did not reach us (timeout,
                        // reset). Ask before sending again.
                        if it.attempts >= 1 {
                            match already_requested(nova, host, &it.id, it.first_epoch) {
                                Some(true) => {
                                    observe(&Event::Resumed {
                                        id: &it.id,
                                        name: &it.name,
                                    });
                                    it.state = State::Requested {
                                        since: Instant::now(),
                                        since_epoch: it.first_epoch.unwrap_or_else(now),
                                        start_sent: false,
                                    };
                                    continue;
                                }
                                Some(false) => {}
                                // Nova did not answer: ask again shortly.
                                None => {
                                    it.state = State::Pending {
                                        not_before: now_i + cfg.poll_interval,
                                    };
                                    continue;
                                }
                            }
                        }
                        it.first_epoch.get_or_insert_with(now);
                        it.state = State::Queued;
                        it.attempts += 1;
                        it.requests += 1;
                        it.first_request.get_or_insert(now_i);
                        observe(&Event::Requested {
                            id: &it.id,
                            name: &it.name,
                            attempt: it.attempts,
                        });
                        queue.push(it.idx, it.id.clone());
                    }
                }
            }
            // Results of requests.
            while let Ok((idx, r)) = rx.try_recv() {
                let it = &mut items[idx];
                match r {
                    Ok(ev) => {
                        used_version.get_or_insert(ev.microversion);
                        if cfg.completion == Completion::Accepted {
                            it.state = State::Done;
                            it.outcome = Some(Outcome::Accepted);
                        } else {
                            it.state = State::Requested {
                                since: Instant::now(),
                                since_epoch: now().saturating_sub(1),
                                start_sent: false,
                            };
                        }
                    }
                    // Nova says an evacuation of it is already running:
                    // follow that one, do not send another.
                    Err(e) if e.http_status() == Some(409) && e.to_string().contains("rebuild") => {
                        observe(&Event::Resumed {
                            id: &it.id,
                            name: &it.name,
                        });
                        it.state = State::Requested {
                            since: Instant::now(),
                            since_epoch: now().saturating_sub(30),
                            start_sent: false,
                        };
                    }
                    Err(e) => {
                        retry_or_fail(it, cfg, &format!("evacuate request failed: {e}"), observe)
                    }
                }
            }
            // Follow what is running.
            let tracking = items
                .iter()
                .any(|i| matches!(i.state, State::Requested { .. }));
            if tracking && (progressed || last_poll.elapsed() >= cfg.poll_interval) {
                last_poll = Instant::now();
                let done_before = items
                    .iter()
                    .filter(|i| matches!(i.state, State::Done))
                    .count();
                let polled = {
                    let _p = permit(cfg);
                    nova.migrations(&MigrationFilter::evacuations_from(host))
                };
                match polled {
                    Ok(migs) => {
                        // The servers whose migration ended are read in
                        // parallel, within what the bound leaves free:
                        // one after the other they took a latency each
                        // (100 instances, 30 ms: 3 s per poll).
                        let queued = items
                            .iter()
                            .filter(|i| matches!(i.state, State::Queued))
                            .count();
                        let threads = reader_threads(cfg, queued);
                        let mut servers = read_ended(nova, &items, &migs, threads, cfg);
                        for it in items.iter_mut() {
                            follow(nova, host, it, &migs, &mut servers, cfg, observe);
                        }
                        progressed = items
                            .iter()
                            .filter(|i| matches!(i.state, State::Done))
                            .count()
                            > done_before;
                    }
                    Err(e) => {
                        progressed = false;
                        crate::warn!("{host}: cannot read evacuation records ({e}); retrying")
                    }
                }
            }
            if items.iter().all(|i| matches!(i.state, State::Done)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        queue.close();
    });

    for it in items {
        report.instances.push(InstanceReport {
            id: it.id,
            name: it.name,
            status_before: it.status_before,
            status_after: it.status_after,
            attempts: it.attempts,
            requests: it.requests,
            outcome: it.outcome.unwrap_or(Outcome::Failed {
                reason: "not finished".into(),
            }),
        });
    }
    report.microversion = used_version.map(|v| v.to_string());
    report.seconds = t0.elapsed().as_secs_f64();
    report
}

/// Is an evacuation of `id` from `host` already under way or done in
/// Nova (task_state rebuilding, moved, or a live migration record since
/// our first request)?
/// `None` when Nova cannot tell us now.
fn already_requested(nova: &Nova, host: &str, id: &str, since: Option<u64>) -> Option<bool> {
    let s = nova.get_server(id).ok()?;
    if s.task_state
        .as_deref()
        .is_some_and(|t| t.starts_with("rebuild"))
        || s.host.as_deref().is_some_and(|h| h != host)
    {
        return Some(true);
    }
    let f = MigrationFilter {
        instance_uuid: Some(id.to_string()),
        ..MigrationFilter::evacuations_from(host)
    };
    let m = nova.migrations(&f).ok()?;
    Some(latest(&m, id, since).is_some_and(|m| ACTIVE_MIGRATION.contains(&m.status.as_str())))
}

fn retry_or_fail(it: &mut Item, cfg: &RunConfig, reason: &str, observe: &(dyn Fn(&Event) + Sync)) {
    if it.attempts < cfg.max_attempts {
        let after = cfg.retry_backoff * 2u32.saturating_pow(it.attempts.saturating_sub(1));
        observe(&Event::Retrying {
            id: &it.id,
            name: &it.name,
            attempt: it.attempts + 1,
            after,
            reason,
        });
        it.state = State::Pending {
            not_before: Instant::now() + after,
        };
    } else {
        let r = format!("{reason} (after {} attempts)", it.attempts);
        observe(&Event::Failed {
            id: &it.id,
            name: &it.name,
            reason: &r,
        });
        it.state = State::Done;
        it.outcome = Some(Outcome::Failed { reason: r });
    }
}

/// The latest migration of a followed instance, if it has ended.
/// How many arrival reads a poll may run at once, `queued` evacuate
/// requests of this host being queued or in flight. Without a shared
/// limiter, `concurrency` bounds this host's requests: the reads get what
/// the evacuate requests leave. With one, the limiter bounds everything;
/// counting queued requests as in flight there left a host with many
/// requests still queued a single reader (bench/scale.rs: a 2 s tail of
/// serial reads on half the hosts, 47% of the limit).
fn reader_threads(cfg: &RunConfig, queued: usize) -> usize {
    if cfg.limiter.is_some() {
        cfg.concurrency.max(1)
    } else {
        cfg.concurrency.saturating_sub(queued).max(1)
    }
}

fn ended(it: &Item, migs: &[Migration]) -> Option<Migration> {
    let State::Requested { since_epoch, .. } = it.state else {
        return None;
    };
    latest(migs, &it.id, Some(since_epoch)).filter(|m| {
        FAILED_MIGRATION.contains(&m.status.as_str())
            || matches!(m.status.as_str(), "done" | "completed")
    })
}

type Servers = std::collections::HashMap<String, crate::Result<crate::openstack::Server>>;

/// Read, with up to `threads` requests at once, the servers that `follow`
/// is about to look at (those whose evacuation migration ended).
fn read_ended(
    nova: &Nova,
    items: &[Item],
    migs: &[Migration],
    threads: usize,
    cfg: &RunConfig,
) -> Servers {
    let ids: Vec<&str> = items
        .iter()
        .filter(|it| ended(it, migs).is_some())
        .map(|it| it.id.as_str())
        .collect();
    let out = Mutex::new(Servers::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads.min(ids.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(id) = ids.get(i) else { break };
                let r = {
                    let _p = permit(cfg);
                    nova.get_server(id)
                };
                out.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id.to_string(), r);
            });
        }
    });
    out.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// One instance's progress, from the host's migration records; the server
/// itself is read only when its migration says it is over (`servers`: read
/// already, see `read_ended`).
fn follow(
    nova: &Nova,
    host: &str,
    it: &mut Item,
    migs: &[Migration],
    servers: &mut Servers,
    cfg: &RunConfig,
    observe: &(dyn Fn(&Event) + Sync),
) {
    let State::Requested {
        since,
        since_epoch,
        start_sent,
    } = it.state.clone()
    else {
        return;
    };
    let mut get_server = |id: &str| servers.remove(id).unwrap_or_else(|| nova.get_server(id));
    let mig = latest(migs, &it.id, Some(since_epoch));
    let status = mig.as_ref().map(|m| m.status.as_str()).unwrap_or("");
    if FAILED_MIGRATION.contains(&status) {
        let where_ = get_server(&it.id)
            .map(|s| (s.host, s.status))
            .unwrap_or((None, "?".into()));
        let reason = format!(
            "evacuation migration {} (server {} on {})",
            status,
            where_.1,
            where_.0.as_deref().unwrap_or("?")
        );
        if where_.0.as_deref().is_some_and(|h| h != host) {
            // It landed somewhere and broke there: another evacuate would
            // be refused (that host is up). Report, do not loop.
            observe(&Event::Failed {
                id: &it.id,
                name: &it.name,
                reason: &reason,
            });
            it.state = State::Done;
            it.status_after = Some(where_.1);
            it.outcome = Some(Outcome::Failed { reason });
        } else {
            retry_or_fail(it, cfg, &reason, observe);
        }
        return;
    }
    if matches!(status, "done" | "completed") {
        match get_server(&it.id) {
            Ok(s) => {
                let moved = s.host.as_deref().is_some_and(|h| h != host);
                let settled = s.task_state.as_deref().map_or(true, str::is_empty);
                if moved && settled {
                    let to = s.host.clone().unwrap_or_default();
                    if s.status == it.expect.status() {
                        // From the first request (or from when this run found it running).
                        let seconds = it.first_request.unwrap_or(since).elapsed().as_secs_f64();
                        observe(&Event::Arrived {
                            id: &it.id,
                            name: &it.name,
                            to: &to,
                            status: &s.status,
                            seconds,
                        });
                        it.state = State::Done;
                        it.status_after = Some(s.status.clone());
                        it.outcome = Some(Outcome::Evacuated { to, seconds });
                        return;
                    }
                    if s.status == "SHUTOFF" && it.expect == Expect::Active {
                        // From microversion 2.95 Nova delivers it stopped.
                        if !start_sent {
                            match nova.start_server(&it.id) {
                                Ok(()) => observe(&Event::Started {
                                    id: &it.id,
                                    name: &it.name,
                                    host: &to,
                                }),
                                Err(e) => {
                                    crate::warn!("{}: start after evacuation failed: {e}", it.id)
                                }
                            }
                            it.state = State::Requested {
                                since,
                                since_epoch,
                                start_sent: true,
                            };
                        }
                    } else if s.status == "ERROR" {
                        let reason = format!("ERROR on {to} after evacuation");
                        observe(&Event::Failed {
                            id: &it.id,
                            name: &it.name,
                            reason: &reason,
                        });
                        it.state = State::Done;
                        it.status_after = Some(s.status.clone());
                        it.outcome = Some(Outcome::Failed { reason });
                        return;
                    }
                }
            }
            Err(e) => crate::debug!("{}: cannot read server: {e}", it.id),
        }
    }
    if since.elapsed() > cfg.instance_timeout {
        retry_or_fail(
            it,
            cfg,
            &format!(
                "not running elsewhere {}s after the request (migration {})",
                cfg.instance_timeout.as_secs(),
                if status.is_empty() { "missing" } else { status }
            ),
            observe,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mig(id: &str, inst: &str, status: &str, created: &str) -> Migration {
        Migration {
            id: id.into(),
            uuid: None,
            instance_uuid: inst.into(),
            source_compute: Some("c1".into()),
            dest_compute: None,
            status: status.into(),
            migration_type: Some("evacuation".into()),
            created_at: Some(created.into()),
            updated_at: None,
        }
    }

    #[test]
    fn latest_migration_wins_and_old_ones_are_history() {
        let m = vec![
            mig("1", "a", "failed", "2026-11-21T10:00:00Z"),
            mig("2", "a", "accepted", "2026-11-21T10:01:00Z"),
            mig("3", "b", "completed", "2025-01-01T00:00:00Z"),
        ];
        assert_eq!(latest(&m, "a", None).unwrap().id, "2");
        let since = parse_datetime("2026-11-21T09:00:00Z");
        assert!(
            latest(&m, "b", since).is_none(),
            "an old record is not this failure's"
        );
        assert!(latest(&m, "b", None).is_some());
    }

    #[test]
    fn regression_reads_are_not_starved_by_queued_requests_under_a_limiter() {
        let alone = RunConfig {
            concurrency: 16,
            ..RunConfig::default()
        };
        assert_eq!(reader_threads(&alone, 0), 16);
        assert_eq!(reader_threads(&alone, 10), 6);
        assert_eq!(reader_threads(&alone, 90), 1);
        let shared = RunConfig {
            limiter: Some(Limiter::new(64)),
            ..alone
        };
        assert_eq!(reader_threads(&shared, 90), 16);
    }

    #[test]
    fn completion_parse() {
        assert_eq!(Completion::parse("accepted").unwrap(), Completion::Accepted);
        assert_eq!(Completion::parse("").unwrap(), Completion::Arrived);
        assert!(Completion::parse("soon").is_err());
    }
}
