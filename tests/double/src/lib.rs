//! nova-double: an in-process Keystone v3 + Nova v2.1 + Glance v2 HTTP double.
//!
//! One [`Double`] per test: it listens on 127.0.0.1 with an ephemeral port and
//! serves every connection on its own thread (HTTP/1.1 keep-alive, see
//! `http.rs`), at most [`Config::workers`] requests at once, so many
//! concurrent clients are served in parallel, each request delayed by
//! [`Config::latency`]. Dropping the double shuts it down.
//!
//! Behaviours mirror Nova 33 (2026.1): shapes, status codes and error
//! messages (see `api.rs`). Deliberate simplifications:
//! - one admin user/project (domain Default); every scoped token is admin;
//!   unscoped tokens get 403 from Nova/Glance; no token caching by services.
//! - evacuation is modelled as: accepted -> (first half of its slot) still on
//!   the source with task_state `rebuilding` -> (second half) on the
//!   destination with task_state `rebuild_spawning` -> done. The destination
//!   is picked at accept time (real Nova: conductor/scheduler just after);
//!   migration status stays `accepted` until `done`/`failed`/`error`.
//! - a target host given without `force` that is down or disabled, or no
//!   candidate at all, is a scheduling failure (NoValidHost): HTTP 200, then
//!   migration `error`, server keeps its state on the source, as in Nova.
//! - injected evacuation failures happen on the destination before the
//!   instance moves: server ERROR on the source host, migration `failed`.
//! - the scheduler picks the up+enabled host with the fewest instances
//!   (in-flight evacuations included); real Nova weighs free RAM etc.
//! - os-start/os-stop act at once when the server's compute is alive, else
//!   the server stays in powering-on/powering-off (the cast is never served).
//! - os-migrations ignores paging (limit/marker, 2.59+); filters
//!   migration_type, source_compute, instance_uuid, status, host.
//! - service `updated_at` ticks every 10 s while alive (report_interval).

mod api;
mod http;
mod state;
mod util;

use state::State;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Double configuration (builder style).
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) hosts: Vec<String>,
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) project: String,
    pub(crate) app_creds: Vec<(String, String, String)>,
    pub(crate) min_mv: (u32, u32),
    pub(crate) max_mv: (u32, u32),
    pub(crate) latency: Duration,
    pub(crate) evacuation_time: Duration,
    pub(crate) serial_per_destination: bool,
    pub(crate) token_ttl: Duration,
    pub(crate) service_down_time: Duration,
    pub(crate) workers: usize,
    pub(crate) port: u16,
    pub(crate) bind: String,
    pub(crate) max_limit: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            hosts: (0..3).map(|i| format!("compute-{i}")).collect(),
            username: "admin".into(),
            password: "secret".into(),
            project: "admin".into(),
            app_creds: Vec::new(),
            min_mv: (2, 1),
            max_mv: (2, 103),
            latency: Duration::ZERO,
            evacuation_time: Duration::from_millis(200),
            serial_per_destination: false,
            token_ttl: Duration::from_secs(3600),
            service_down_time: Duration::ZERO,
            workers: 80,
            port: 0,
            bind: "127.0.0.1".into(),
            max_limit: 1000,
        }
    }
}

fn parse_mv(v: &str) -> (u32, u32) {
    let (a, b) = v.split_once('.').expect("microversion like 2.53");
    (a.parse().expect("major"), b.parse().expect("minor"))
}

impl Config {
    pub fn new() -> Config {
        Config::default()
    }
    /// Compute host names (one nova-compute service each). Default compute-0..2.
    pub fn hosts<I, S>(mut self, hosts: I) -> Config
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.hosts = hosts.into_iter().map(Into::into).collect();
        self
    }
    /// `n` compute hosts named compute-0 .. compute-(n-1).
    pub fn host_count(mut self, n: usize) -> Config {
        self.hosts = (0..n).map(|i| format!("compute-{i}")).collect();
        self
    }
    /// Admin user name (default "admin", domain Default).
    pub fn username(mut self, u: &str) -> Config {
        self.username = u.into();
        self
    }
    /// Admin password (default "secret").
    pub fn password(mut self, p: &str) -> Config {
        self.password = p.into();
        self
    }
    /// Admin project name (default "admin", domain Default).
    pub fn project(mut self, p: &str) -> Config {
        self.project = p.into();
        self
    }
    /// Accept an application credential (of the admin user, scoped to the
    /// admin project).
    pub fn application_credential(mut self, id: &str, name: &str, secret: &str) -> Config {
        self.app_creds.push((id.into(), name.into(), secret.into()));
        self
    }
    /// Highest compute microversion (default "2.103").
    pub fn max_microversion(mut self, v: &str) -> Config {
        self.max_mv = parse_mv(v);
        self
    }
    /// Lowest compute microversion (default "2.1"), also the default version.
    pub fn min_microversion(mut self, v: &str) -> Config {
        self.min_mv = parse_mv(v);
        self
    }
    /// Added to every request (default 0).
    pub fn latency(mut self, d: Duration) -> Config {
        self.latency = d;
        self
    }
    /// From accepted evacuation to the server running on the destination
    /// (default 200 ms).
    pub fn evacuation_time(mut self, d: Duration) -> Config {
        self.evacuation_time = d;
        self
    }
    /// A destination handles its incoming evacuations one at a time.
    pub fn serial_per_destination(mut self, on: bool) -> Config {
        self.serial_per_destination = on;
        self
    }
    /// Keystone token lifetime (default 1 h).
    pub fn token_ttl(mut self, d: Duration) -> Config {
        self.token_ttl = d;
        self
    }
    /// How long a dead nova-compute still shows `up` (Nova's
    /// service_down_time, 60 s in production). Default 0: down at once.
    pub fn service_down_time(mut self, d: Duration) -> Config {
        self.service_down_time = d;
        self
    }
    /// Requests handled at once (default 80; each connection has its own
    /// thread): the concurrency at which requests still complete in one
    /// `latency`.
    pub fn workers(mut self, n: usize) -> Config {
        self.workers = n.max(1);
        self
    }
    /// Fixed port (default 0: ephemeral).
    pub fn port(mut self, p: u16) -> Config {
        self.port = p;
        self
    }
    /// Listen address (default 127.0.0.1). URLs always use this address.
    pub fn bind(mut self, addr: &str) -> Config {
        self.bind = addr.into();
        self
    }
    /// osapi_max_limit: page size of server lists (default 1000).
    pub fn max_limit(mut self, n: usize) -> Config {
        self.max_limit = n.max(1);
        self
    }
}

/// A server to create with [`Double::add_server`].
#[derive(Clone, Debug)]
pub struct ServerSpec {
    pub(crate) name: String,
    pub(crate) host: String,
    pub(crate) status: String,
    pub(crate) flavor: String,
    pub(crate) extra_specs: BTreeMap<String, String>,
    pub(crate) flavor_public: bool,
    pub(crate) vcpus: u32,
    pub(crate) ram_mb: u32,
    pub(crate) disk_gb: u32,
    pub(crate) image: Option<String>,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) tenant: Option<String>,
}

impl ServerSpec {
    /// ACTIVE server `name` on `host`, flavor "m1.small" (public, no extra
    /// specs), volume-backed (no image), no metadata, tenant "demo".
    pub fn new(name: &str, host: &str) -> ServerSpec {
        ServerSpec {
            name: name.into(),
            host: host.into(),
            status: "ACTIVE".into(),
            flavor: "m1.small".into(),
            extra_specs: BTreeMap::new(),
            flavor_public: true,
            vcpus: 1,
            ram_mb: 2048,
            disk_gb: 20,
            image: None,
            metadata: BTreeMap::new(),
            tenant: None,
        }
    }
    /// ACTIVE, SHUTOFF, ERROR, SHELVED_OFFLOADED, SHELVED, PAUSED, SUSPENDED,
    /// BUILD, RESCUE.
    pub fn status(mut self, s: &str) -> ServerSpec {
        state::vm_state_for(s);
        self.status = s.into();
        self
    }
    /// Flavor by name; created on first use, shared by later servers.
    pub fn flavor(mut self, name: &str) -> ServerSpec {
        self.flavor = name.into();
        self
    }
    /// Add an extra spec to the flavor (e.g. "evacuable", "true").
    pub fn extra_spec(mut self, k: &str, v: &str) -> ServerSpec {
        self.extra_specs.insert(k.into(), v.into());
        self
    }
    /// Make the flavor private (is_public false).
    pub fn private_flavor(mut self) -> ServerSpec {
        self.flavor_public = false;
        self
    }
    /// Image-backed from this Glance image id.
    pub fn image(mut self, id: &str) -> ServerSpec {
        self.image = Some(id.into());
        self
    }
    /// Server metadata key/value.
    pub fn metadata(mut self, k: &str, v: &str) -> ServerSpec {
        self.metadata.insert(k.into(), v.into());
        self
    }
    /// Owning project id (default: the id of project "demo").
    pub fn tenant(mut self, t: &str) -> ServerSpec {
        self.tenant = Some(t.into());
        self
    }
}

/// Snapshot of a server.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerView {
    pub id: String,
    pub name: String,
    pub host: Option<String>,
    pub status: String,
    pub vm_state: String,
    pub task_state: Option<String>,
    pub power_state: u8,
    pub tenant_id: String,
    pub flavor_name: String,
    pub image: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// Snapshot of a service.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceView {
    pub id: u64,
    pub uuid: String,
    pub binary: String,
    pub host: String,
    /// "enabled" / "disabled"
    pub status: String,
    pub disabled_reason: Option<String>,
    pub forced_down: bool,
    /// nova-compute process running
    pub alive: bool,
    /// "up" / "down" as the API reports it
    pub state: String,
}

/// Snapshot of a migration record.
#[derive(Clone, Debug, PartialEq)]
pub struct MigrationView {
    pub id: u64,
    pub uuid: String,
    pub instance_uuid: String,
    pub source_compute: String,
    pub dest_compute: Option<String>,
    /// accepted, done, completed, failed, error
    pub status: String,
    pub migration_type: String,
    /// microversion of the evacuate request
    pub microversion: String,
}

/// One logged request.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub query: String,
    /// The compute microversion header as sent (OpenStack-API-Version value
    /// without the "compute " prefix, else X-OpenStack-Nova-API-Version).
    pub microversion: Option<String>,
}

/// When one request was served (for throughput measurements).
#[derive(Clone, Debug, PartialEq)]
pub struct RequestTiming {
    pub method: String,
    pub path: String,
    /// From the double's start to when the request was read.
    pub start: Duration,
    /// From the double's start to when the reply was ready.
    pub end: Duration,
}

pub(crate) struct Shared {
    pub cfg: Config,
    pub state: Mutex<State>,
    pub shutdown: AtomicBool,
    pub base: String,
    pub t0: Instant,
    pub timings: Mutex<Vec<RequestTiming>>,
}

impl Shared {
    pub fn record_timing(&self, method: &str, path: &str, started: Instant) {
        let mut t = self.timings.lock().unwrap_or_else(|e| e.into_inner());
        if t.len() < state::REQUEST_LOG_CAP {
            t.push(RequestTiming {
                method: method.to_string(),
                path: path.to_string(),
                start: started.saturating_duration_since(self.t0),
                end: self.t0.elapsed(),
            });
        }
    }

    /// Lock and bring evacuations up to date.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        g.advance(Instant::now());
        g
    }
}

/// A running double. Drop to stop it.
pub struct Double {
    shared: Arc<Shared>,
    server: Option<http::HttpServer>,
    port: u16,
}

impl Double {
    /// Bind, start serving, return at once.
    pub fn start(cfg: Config) -> Double {
        let host = if cfg.bind == "0.0.0.0" {
            "127.0.0.1".to_string()
        } else {
            cfg.bind.clone()
        };
        // The port is only known after binding: bind first, then fill in.
        let slot: Arc<std::sync::OnceLock<Arc<Shared>>> = Arc::new(std::sync::OnceLock::new());
        let s2 = slot.clone();
        let handler = Arc::new(move |rq: http::HttpRequest| {
            api::handle(s2.get().expect("double started"), rq)
        });
        let server = http::HttpServer::start(&cfg.bind, cfg.port, cfg.workers, handler)
            .unwrap_or_else(|e| panic!("nova-double: bind {}:{}: {e}", cfg.bind, cfg.port));
        let port = server.port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(&cfg)),
            shutdown: AtomicBool::new(false),
            base: format!("http://{host}:{port}"),
            t0: Instant::now(),
            timings: Mutex::new(Vec::new()),
            cfg,
        });
        let _ = slot.set(shared.clone());
        Double {
            shared,
            server: Some(server),
            port,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }
    /// "http://127.0.0.1:PORT"
    pub fn base_url(&self) -> String {
        self.shared.base.clone()
    }
    /// "http://127.0.0.1:PORT/identity/v3"
    pub fn auth_url(&self) -> String {
        format!("{}/identity/v3", self.shared.base)
    }
    /// "http://127.0.0.1:PORT/compute/v2.1" (the catalog's compute URL)
    pub fn compute_url(&self) -> String {
        format!("{}/compute/v2.1", self.shared.base)
    }
    /// "http://127.0.0.1:PORT/image" (the catalog's image URL)
    pub fn image_url(&self) -> String {
        format!("{}/image", self.shared.base)
    }
    pub fn region(&self) -> &'static str {
        "RegionOne"
    }
    pub fn username(&self) -> String {
        self.shared.cfg.username.clone()
    }
    pub fn password(&self) -> String {
        self.shared.cfg.password.clone()
    }
    pub fn project(&self) -> String {
        self.shared.cfg.project.clone()
    }
    pub fn hosts(&self) -> Vec<String> {
        self.shared.cfg.hosts.clone()
    }

    /// Create a server; returns its UUID.
    pub fn add_server(&self, spec: ServerSpec) -> String {
        self.shared.lock().add_server(spec)
    }
    /// Create or replace a Glance image.
    pub fn add_image(&self, id: &str, tags: &[&str], properties: &[(&str, &str)]) {
        let mut st = self.shared.lock();
        st.images.insert(
            id.to_string(),
            state::Image {
                id: id.to_string(),
                name: format!("image-{}", &id[..id.len().min(8)]),
                tags: tags.iter().map(|t| t.to_string()).collect(),
                properties: properties
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                created: std::time::SystemTime::now(),
            },
        );
    }
    /// Start/stop the nova-compute process of `host` (panics if unknown).
    /// Not alive: it stops reporting and its service shows `down` after
    /// service_down_time; its evacuations in flight as destination stall.
    pub fn set_compute_alive(&self, host: &str, alive: bool) {
        self.shared.lock().set_alive(host, alive, Instant::now());
    }
    /// nova-compute of `host` restarts: alive, and its `done` evacuation
    /// migrations (as source) become `completed`.
    pub fn restart_compute(&self, host: &str) {
        self.shared.lock().restart_compute(host);
    }
    /// Set forced_down directly (test setup; no API rules applied).
    pub fn set_forced_down(&self, host: &str, forced_down: bool) {
        let mut st = self.shared.lock();
        st.compute_mut(host).expect("known host").forced_down = forced_down;
    }
    /// `host` failed and was fenced, as fence_compute leaves it: its
    /// nova-compute dead, forced down, disabled with an instance-ha
    /// "pending" marker dated now.
    pub fn mark_fenced(&self, host: &str) {
        self.set_compute_alive(host, false);
        self.set_forced_down(host, true);
        let reason = format!(
            "instance-ha: pending since {} by nova-double",
            util::ts_z(std::time::SystemTime::now())
        );
        self.set_disabled(host, Some(&reason));
    }
    /// Disable (Some(reason)) or enable (None) a compute service directly.
    pub fn set_disabled(&self, host: &str, disabled: Option<&str>) {
        let mut st = self.shared.lock();
        let s = st.compute_mut(host).expect("known host");
        s.disabled = disabled.is_some();
        s.disabled_reason = disabled.filter(|r| !r.is_empty()).map(str::to_string);
    }
    /// The next `n` accepted evacuations of this server fail on the
    /// destination: server ERROR (still on the source), migration `failed`.
    pub fn fail_next_evacuations(&self, server_id: &str, n: u32) {
        self.shared
            .lock()
            .fail_next
            .insert(server_id.to_string(), n);
    }
    /// The next `count` requests whose method matches (`"*"` for any) and
    /// whose path starts with `path_prefix` (e.g. "/compute/v2.1/servers")
    /// get `status` in the service's error shape.
    pub fn inject_error(&self, method: &str, path_prefix: &str, status: u16, count: u32) {
        self.shared.lock().injections.push(state::Injection {
            method: method.to_ascii_uppercase(),
            prefix: path_prefix.into(),
            status,
            delay: Duration::ZERO,
            remaining: count,
        });
    }
    /// The next `count` matching requests are delayed by `delay` (then
    /// served normally): for client timeouts.
    pub fn inject_delay(&self, method: &str, path_prefix: &str, delay: Duration, count: u32) {
        self.shared.lock().injections.push(state::Injection {
            method: method.to_ascii_uppercase(),
            prefix: path_prefix.into(),
            status: 0,
            delay,
            remaining: count,
        });
    }
    /// Invalidate every issued token: the next call with one gets 401.
    pub fn revoke_tokens(&self) {
        self.shared.lock().tokens.clear();
    }
    /// Requests served so far (oldest first; capped at 200,000).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().log.iter().cloned().collect()
    }
    pub fn clear_requests(&self) {
        self.shared.lock().log.clear();
        self.shared
            .timings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
    /// TCP connections accepted so far (a keep-alive client reuses them).
    pub fn connections_accepted(&self) -> u64 {
        self.server.as_ref().map_or(0, |s| s.connections())
    }
    /// When each request was served, in order of completion (capped at
    /// 200,000).
    pub fn request_timings(&self) -> Vec<RequestTiming> {
        self.shared
            .timings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    /// Number of evacuate actions received for this server (accepted or not).
    pub fn evacuate_requests(&self, server_id: &str) -> usize {
        self.shared
            .lock()
            .evac_requests
            .get(server_id)
            .copied()
            .unwrap_or(0)
    }
    pub fn server(&self, id: &str) -> Option<ServerView> {
        let st = self.shared.lock();
        st.server(id).map(|s| st.server_view(s))
    }
    /// All servers, oldest first.
    pub fn servers(&self) -> Vec<ServerView> {
        let st = self.shared.lock();
        st.servers.values().map(|s| st.server_view(s)).collect()
    }
    /// The nova-compute service of `host`.
    pub fn service(&self, host: &str) -> Option<ServiceView> {
        let st = self.shared.lock();
        st.compute(host).map(|s| st.service_view(s, Instant::now()))
    }
    /// All migration records, oldest first.
    pub fn migrations(&self) -> Vec<MigrationView> {
        self.shared
            .lock()
            .migrations
            .iter()
            .map(State::migration_view)
            .collect()
    }
    /// Evacuations accepted and not yet finished.
    pub fn pending_evacuations(&self) -> usize {
        self.shared.lock().pending.len()
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        drop(self.server.take());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn double_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<super::Double>();
    }
}
