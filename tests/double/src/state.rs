//! The fake cloud's state and its clock-driven evolution.
//!
//! Evacuations are evaluated lazily: every access first calls
//! [`State::advance`], which moves in-flight evacuations through their
//! phases according to the wall clock. No timer thread, no per-evacuation
//! thread: memory stays flat whatever the number of in-flight evacuations.

use crate::util::{stable_hex, Rng};
use crate::{Config, MigrationView, RequestRecord, ServerSpec, ServerView, ServiceView};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

pub type Mv = (u32, u32);

pub const REQUEST_LOG_CAP: usize = 200_000;

pub struct Service {
    pub id: u64,
    pub uuid: String,
    pub binary: &'static str,
    pub host: String,
    pub zone: &'static str,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub forced_down: bool,
    /// The nova-compute process runs and reports.
    pub alive: bool,
    pub died_at: Option<Instant>,
    pub last_report: SystemTime,
    pub updated_at: SystemTime,
}

impl Service {
    /// Nova's servicegroup DB driver: down when forced down, or when it has
    /// not reported for service_down_time.
    pub fn is_up(&self, now: Instant, down_time: Duration) -> bool {
        if self.forced_down {
            return false;
        }
        if self.alive {
            return true;
        }
        match self.died_at {
            Some(t) => now.duration_since(t) < down_time,
            None => false,
        }
    }
    pub fn reported_at(&self) -> SystemTime {
        if self.alive {
            // reports when it starts (last_report), then every
            // report_interval (10 s)
            let now = SystemTime::now();
            let secs = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            (SystemTime::UNIX_EPOCH + Duration::from_secs(secs - secs % 10)).max(self.last_report)
        } else {
            self.last_report
        }
    }
}

pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: u32,
    pub ram: u32,
    pub disk: u32,
    pub ephemeral: u32,
    pub swap: u32,
    pub is_public: bool,
    pub extra_specs: BTreeMap<String, String>,
}

pub struct Image {
    pub id: String,
    pub name: String,
    pub tags: Vec<String>,
    pub properties: BTreeMap<String, String>,
    pub created: SystemTime,
}

pub struct Server {
    pub id: String,
    #[allow(dead_code)]
    pub seq: u64,
    pub name: String,
    pub tenant_id: String,
    pub user_id: String,
    pub host: Option<String>,
    pub vm_state: String,
    pub task_state: Option<String>,
    pub power_state: u8,
    pub flavor: usize,
    pub image: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub created: SystemTime,
    pub updated: SystemTime,
    pub instance_name: String,
}

impl Server {
    /// nova.api.openstack.common.status_from_state (the parts that matter).
    pub fn status(&self) -> &'static str {
        let ts = self.task_state.as_deref();
        match self.vm_state.as_str() {
            "error" => "ERROR",
            "active" => match ts {
                Some("rebuilding")
                | Some("rebuild_block_device_mapping")
                | Some("rebuild_spawning") => "REBUILD",
                Some("powering-off") => "ACTIVE",
                _ => "ACTIVE",
            },
            "stopped" => match ts {
                Some("rebuilding")
                | Some("rebuild_block_device_mapping")
                | Some("rebuild_spawning") => "REBUILD",
                _ => "SHUTOFF",
            },
            "shelved_offloaded" => "SHELVED_OFFLOADED",
            "shelved" => "SHELVED",
            "paused" => "PAUSED",
            "suspended" => "SUSPENDED",
            "building" => "BUILD",
            "deleted" => "DELETED",
            "soft-delete" => "SOFT_DELETED",
            "rescued" => "RESCUE",
            "resized" => "VERIFY_RESIZE",
            _ => "UNKNOWN",
        }
    }
}

pub struct Migration {
    pub id: u64,
    pub uuid: String,
    pub instance_uuid: String,
    pub source_compute: String,
    pub dest_compute: Option<String>,
    pub status: String,
    pub created: SystemTime,
    pub updated: SystemTime,
    pub microversion: Mv,
    pub project_id: String,
    pub user_id: String,
    pub flavor_id: u64,
}

/// An evacuation not yet finished.
pub struct Pending {
    pub migration: usize,
    pub server: String,
    /// None: scheduling failed (NoValidHost) -> migration "error".
    pub dest: Option<String>,
    pub start: Instant,
    pub end: Instant,
    pub fail: bool,
    pub started: bool,
    pub orig_vm_state: String,
    pub arrive_stopped: bool,
}

pub struct Token {
    pub expires: Instant,
    pub expires_wall: SystemTime,
    pub scoped: bool,
}

pub struct Injection {
    pub method: String,
    pub prefix: String,
    pub status: u16,
    pub delay: Duration,
    pub remaining: u32,
}

pub struct State {
    pub rng: Rng,
    pub services: Vec<Service>,
    pub servers: BTreeMap<u64, Server>,
    pub server_index: HashMap<String, u64>,
    pub flavors: Vec<Flavor>,
    pub images: HashMap<String, Image>,
    pub migrations: Vec<Migration>,
    pub pending: Vec<Pending>,
    pub busy_until: HashMap<String, Instant>,
    pub tokens: HashMap<String, Token>,
    pub fail_next: HashMap<String, u32>,
    pub injections: Vec<Injection>,
    pub log: VecDeque<RequestRecord>,
    pub evac_requests: HashMap<String, usize>,
    pub next_seq: u64,
    pub down_time: Duration,
    pub evacuation_time: Duration,
    pub serial: bool,
    pub admin_project_id: String,
    pub admin_user_id: String,
}

pub fn vm_state_for(status: &str) -> (&'static str, u8) {
    // power_state: 0 NOSTATE, 1 RUNNING, 3 PAUSED, 4 SHUTDOWN, 7 SUSPENDED
    match status.to_ascii_uppercase().as_str() {
        "ACTIVE" => ("active", 1),
        "SHUTOFF" | "STOPPED" => ("stopped", 4),
        "ERROR" => ("error", 0),
        "SHELVED_OFFLOADED" => ("shelved_offloaded", 4),
        "SHELVED" => ("shelved", 4),
        "PAUSED" => ("paused", 3),
        "SUSPENDED" => ("suspended", 7),
        "BUILD" => ("building", 0),
        "RESCUE" => ("rescued", 1),
        other => panic!("nova-double: unsupported server status {other:?}"),
    }
}

impl State {
    pub fn new(cfg: &Config) -> State {
        let mut rng = Rng::seeded();
        let now = SystemTime::now();
        let mut services = Vec::new();
        let mut id = 1;
        // Control plane services, listed by Nova too: clients must filter by binary.
        for binary in ["nova-scheduler", "nova-conductor"] {
            services.push(Service {
                id,
                uuid: rng.uuid(),
                binary,
                host: "controller".into(),
                zone: "internal",
                disabled: false,
                disabled_reason: None,
                forced_down: false,
                alive: true,
                died_at: None,
                last_report: now,
                updated_at: now,
            });
            id += 1;
        }
        for h in &cfg.hosts {
            services.push(Service {
                id,
                uuid: rng.uuid(),
                binary: "nova-compute",
                host: h.clone(),
                zone: "nova",
                disabled: false,
                disabled_reason: None,
                forced_down: false,
                alive: true,
                died_at: None,
                last_report: now,
                updated_at: now,
            });
            id += 1;
        }
        State {
            rng,
            services,
            servers: BTreeMap::new(),
            server_index: HashMap::new(),
            flavors: Vec::new(),
            images: HashMap::new(),
            migrations: Vec::new(),
            pending: Vec::new(),
            busy_until: HashMap::new(),
            tokens: HashMap::new(),
            fail_next: HashMap::new(),
            injections: Vec::new(),
            log: VecDeque::new(),
            evac_requests: HashMap::new(),
            next_seq: 1,
            down_time: cfg.service_down_time,
            evacuation_time: cfg.evacuation_time,
            serial: cfg.serial_per_destination,
            admin_project_id: stable_hex(&format!("project:{}", cfg.project)),
            admin_user_id: stable_hex(&format!("user:{}", cfg.username)),
        }
    }

    pub fn compute(&self, host: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.binary == "nova-compute" && s.host == host)
    }
    pub fn compute_mut(&mut self, host: &str) -> Option<&mut Service> {
        self.services
            .iter_mut()
            .find(|s| s.binary == "nova-compute" && s.host == host)
    }
    pub fn compute_up(&self, host: &str, now: Instant) -> bool {
        self.compute(host)
            .map(|s| s.is_up(now, self.down_time))
            .unwrap_or(false)
    }
    fn compute_alive(&self, host: &str) -> bool {
        self.compute(host).map(|s| s.alive).unwrap_or(false)
    }

    pub fn server(&self, id: &str) -> Option<&Server> {
        self.server_index.get(id).and_then(|k| self.servers.get(k))
    }
    pub fn server_mut(&mut self, id: &str) -> Option<&mut Server> {
        match self.server_index.get(id) {
            Some(k) => self.servers.get_mut(k),
            None => None,
        }
    }

    pub fn flavor_for(&mut self, spec: &ServerSpec) -> usize {
        if let Some(i) = self.flavors.iter().position(|f| f.name == spec.flavor) {
            let f = &mut self.flavors[i];
            for (k, v) in &spec.extra_specs {
                f.extra_specs.insert(k.clone(), v.clone());
            }
            if !spec.flavor_public {
                f.is_public = false;
            }
            return i;
        }
        let id = (self.flavors.len() + 1).to_string();
        self.flavors.push(Flavor {
            id,
            name: spec.flavor.clone(),
            vcpus: spec.vcpus,
            ram: spec.ram_mb,
            disk: spec.disk_gb,
            ephemeral: 0,
            swap: 0,
            is_public: spec.flavor_public,
            extra_specs: spec.extra_specs.clone(),
        });
        self.flavors.len() - 1
    }

    pub fn add_server(&mut self, spec: ServerSpec) -> String {
        let flavor = self.flavor_for(&spec);
        let (vm_state, power) = vm_state_for(&spec.status);
        let id = self.rng.uuid();
        let seq = self.next_seq;
        self.next_seq += 1;
        let host = if vm_state == "shelved_offloaded" {
            None
        } else {
            Some(spec.host.clone())
        };
        let now = SystemTime::now();
        let tenant = spec
            .tenant
            .clone()
            .unwrap_or_else(|| stable_hex("project:demo"));
        self.servers.insert(
            seq,
            Server {
                id: id.clone(),
                seq,
                name: spec.name,
                tenant_id: tenant,
                user_id: stable_hex("user:demo"),
                host,
                vm_state: vm_state.into(),
                task_state: None,
                power_state: power,
                flavor,
                image: spec.image,
                metadata: spec.metadata,
                created: now,
                updated: now,
                instance_name: format!("instance-{:08x}", seq),
            },
        );
        self.server_index.insert(id.clone(), seq);
        id
    }

    /// Move in-flight evacuations forward to `now`.
    pub fn advance(&mut self, now: Instant) {
        if self.pending.is_empty() {
            return;
        }
        let wall = SystemTime::now();
        let mut i = 0;
        while i < self.pending.len() {
            let done = self.step(i, now, wall);
            if done {
                self.pending.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Returns true when the evacuation reached a final state.
    fn step(&mut self, i: usize, now: Instant, wall: SystemTime) -> bool {
        // Every request locks the state and advances it, with up to a few
        // thousand evacuations pending at scale: an evacuation with nothing
        // due yet returns here, before any lookup or clone below (the scale
        // bench measured 45 ms per request against 30 configured when each
        // pass cloned three strings of every pending evacuation). The
        // answers are the ones the full path gives: nothing happens before
        // `start`, the move at `mid` or the arrival at `end`.
        {
            let p = &self.pending[i];
            if now < p.start {
                return false;
            }
            if p.dest.is_some() && !p.fail {
                let mid = p.start + (p.end - p.start) / 2;
                if (!p.started && now < mid) || (p.started && now < p.end) {
                    return false;
                }
            }
        }
        let (mig, server_id, dest, start, end, fail, started, orig, arrive_stopped) = {
            let p = &self.pending[i];
            (
                p.migration,
                p.server.clone(),
                p.dest.clone(),
                p.start,
                p.end,
                p.fail,
                p.started,
                p.orig_vm_state.clone(),
                p.arrive_stopped,
            )
        };
        if now < start {
            return false;
        }
        let Some(dest) = dest else {
            // conductor: NoValidHost -> migration error, instance keeps its
            // vm_state, task_state reset, stays on the source.
            if let Some(s) = self.server_mut(&server_id) {
                s.task_state = None;
                s.updated = wall;
            }
            let m = &mut self.migrations[mig];
            m.status = "error".into();
            m.updated = wall;
            return true;
        };
        // The RPC cast to a dead destination is not consumed until it lives.
        if !self.compute_alive(&dest) {
            return false;
        }
        if fail {
            // Failure on the destination before the instance moved (claim or
            // InvalidSharedStorage): the instance goes to ERROR, stays on the
            // source host; the migration is "failed".
            if let Some(s) = self.server_mut(&server_id) {
                s.vm_state = "error".into();
                s.task_state = None;
                s.updated = wall;
            }
            let m = &mut self.migrations[mig];
            m.status = "failed".into();
            m.updated = wall;
            return true;
        }
        // The destination claims and sets up the instance first; it moves
        // to the destination (instance.host) halfway through its slot.
        let mid = start + (end - start) / 2;
        if now < mid {
            return false;
        }
        if !started {
            self.pending[i].started = true;
            let node = dest.clone();
            if let Some(s) = self.server_mut(&server_id) {
                // _do_rebuild_instance: instance.host = self.host early on.
                s.host = Some(node);
                s.task_state = Some("rebuild_spawning".into());
                s.updated = wall;
            }
        }
        if now < end {
            return false;
        }
        if let Some(s) = self.server_mut(&server_id) {
            // Evacuation rebuilds the guest. Before 2.95 Nova keeps the
            // original state: STOPPED stays stopped, ACTIVE and ERROR come
            // back ACTIVE (rebuild_instance powers it on; ERROR is an
            // allowed source state of evacuate). From 2.95 the server
            // arrives STOPPED whatever it was.
            let stopped = arrive_stopped || orig == "stopped";
            s.vm_state = if stopped { "stopped" } else { "active" }.into();
            s.power_state = if stopped { 4 } else { 1 };
            s.task_state = None;
            s.host = Some(dest.clone());
            s.updated = wall;
        }
        let m = &mut self.migrations[mig];
        m.status = "done".into();
        m.updated = wall;
        true
    }

    /// Where the scheduler would put one more instance evacuated from
    /// `source`: the up and enabled compute with the fewest instances
    /// (in-flight evacuations included), never the source.
    pub fn schedule(&self, source: &str, now: Instant) -> Option<String> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for s in self.servers.values() {
            if let Some(h) = &s.host {
                *counts.entry(h.as_str()).or_default() += 1;
            }
        }
        for p in &self.pending {
            if let (Some(d), false) = (&p.dest, p.started) {
                *counts.entry(d.as_str()).or_default() += 1;
            }
        }
        self.services
            .iter()
            .filter(|s| s.binary == "nova-compute" && s.host != source && !s.disabled)
            .filter(|s| s.is_up(now, self.down_time))
            .min_by_key(|s| counts.get(s.host.as_str()).copied().unwrap_or(0))
            .map(|s| s.host.clone())
    }

    /// Queue an accepted evacuation. Returns the migration index.
    pub fn start_evacuation(
        &mut self,
        server_id: &str,
        dest: Option<String>,
        mv: Mv,
        now: Instant,
    ) -> usize {
        let wall = SystemTime::now();
        let (source, orig, project, flavor) = {
            let s = self.server(server_id).expect("server exists");
            (
                s.host.clone().unwrap_or_default(),
                s.vm_state.clone(),
                s.tenant_id.clone(),
                s.flavor,
            )
        };
        let id = self.migrations.len() as u64 + 1;
        let uuid = self.rng.uuid();
        self.migrations.push(Migration {
            id,
            uuid,
            instance_uuid: server_id.to_string(),
            source_compute: source,
            dest_compute: dest.clone(),
            status: "accepted".into(),
            created: wall,
            updated: wall,
            microversion: mv,
            project_id: project,
            user_id: self.admin_user_id.clone(),
            flavor_id: flavor as u64 + 1,
        });
        let fail = match self.fail_next.get_mut(server_id) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        };
        let (start, end) = match &dest {
            None => (now, now),
            Some(d) if fail => {
                let start = if self.serial {
                    self.busy_until
                        .get(d)
                        .copied()
                        .map(|b| b.max(now))
                        .unwrap_or(now)
                } else {
                    now
                };
                (start, start)
            }
            Some(d) => {
                let start = if self.serial {
                    self.busy_until
                        .get(d)
                        .copied()
                        .map(|b| b.max(now))
                        .unwrap_or(now)
                } else {
                    now
                };
                let end = start + self.evacuation_time;
                if self.serial {
                    self.busy_until.insert(d.clone(), end);
                }
                (start, end)
            }
        };
        if let Some(s) = self.server_mut(server_id) {
            s.task_state = Some("rebuilding".into());
            s.updated = wall;
        }
        let idx = self.migrations.len() - 1;
        self.pending.push(Pending {
            migration: idx,
            server: server_id.to_string(),
            dest,
            start,
            end,
            fail,
            started: false,
            orig_vm_state: orig,
            arrive_stopped: mv >= (2, 95),
        });
        idx
    }

    /// A restarted nova-compute (_destroy_evacuated_instances): its `done`
    /// evacuation migrations as source become `completed`.
    pub fn restart_compute(&mut self, host: &str) {
        let wall = SystemTime::now();
        if let Some(s) = self.compute_mut(host) {
            s.alive = true;
            s.died_at = None;
            s.last_report = wall;
        }
        for m in self.migrations.iter_mut() {
            if m.source_compute == host && m.status == "done" {
                m.status = "completed".into();
                m.updated = wall;
            }
        }
    }

    pub fn set_alive(&mut self, host: &str, alive: bool, now: Instant) {
        let wall = SystemTime::now();
        if let Some(s) = self.compute_mut(host) {
            if s.alive && !alive {
                s.died_at = Some(now);
                s.last_report = wall;
            }
            if alive {
                s.died_at = None;
                s.last_report = wall;
            }
            s.alive = alive;
        } else {
            panic!("nova-double: unknown compute host {host:?}");
        }
    }

    pub fn has_done_evacuations(&self, host: &str) -> bool {
        self.migrations
            .iter()
            .any(|m| m.source_compute == host && m.status == "done")
    }

    pub fn server_view(&self, s: &Server) -> ServerView {
        ServerView {
            id: s.id.clone(),
            name: s.name.clone(),
            host: s.host.clone(),
            status: s.status().to_string(),
            vm_state: s.vm_state.clone(),
            task_state: s.task_state.clone(),
            power_state: s.power_state,
            tenant_id: s.tenant_id.clone(),
            flavor_name: self.flavors[s.flavor].name.clone(),
            image: s.image.clone(),
            metadata: s.metadata.clone(),
        }
    }

    pub fn service_view(&self, s: &Service, now: Instant) -> ServiceView {
        ServiceView {
            id: s.id,
            uuid: s.uuid.clone(),
            binary: s.binary.to_string(),
            host: s.host.clone(),
            status: if s.disabled { "disabled" } else { "enabled" }.into(),
            disabled_reason: s.disabled_reason.clone(),
            forced_down: s.forced_down,
            alive: s.alive,
            state: if s.is_up(now, self.down_time) {
                "up"
            } else {
                "down"
            }
            .into(),
        }
    }

    pub fn migration_view(m: &Migration) -> MigrationView {
        MigrationView {
            id: m.id,
            uuid: m.uuid.clone(),
            instance_uuid: m.instance_uuid.clone(),
            source_compute: m.source_compute.clone(),
            dest_compute: m.dest_compute.clone(),
            status: m.status.clone(),
            migration_type: "evacuation".into(),
            microversion: format!("{}.{}", m.microversion.0, m.microversion.1),
        }
    }

    pub fn log_request(&mut self, r: RequestRecord) {
        if self.log.len() >= REQUEST_LOG_CAP {
            self.log.pop_front();
        }
        self.log.push_back(r);
    }
}
