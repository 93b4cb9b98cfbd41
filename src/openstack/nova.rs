//! Nova (compute) calls used by instance HA, each at a microversion chosen
//! from what the server offers:
//!
//! | call | microversion | why |
//! |---|---|---|
//! | services list/update | 2.53 if offered, else 2.11 | 2.53: UUID ids, `PUT /os-services/{id}`; 2.11: legacy `force-down` |
//! | servers list/get | 2.47 if offered | flavor embedded with extra_specs (no per-flavor lookups, private flavors included) |
//! | evacuate | caller's, else highest <= 2.94 | from 2.95 servers arrive SHUTOFF; `onSharedStorage` only below 2.14 |
//! | migrations | 2.59 if offered, else <= 2.23 | 2.59: uuid + paging; 2.23: `migration_type` |
//! | hypervisors | 2.53 if offered | UUID ids, paging |
//!
//! [`Nova`] is `Send + Sync` and cheap to share behind an `Arc`; version
//! discovery runs once per `Nova`, on first use.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use super::microversion::{Microversion, VersionRange};
use super::session::{encode_segment, Request, Session};
use crate::error::{Error, Result};

const SERVICE: &str = "compute";
pub const SERVICES_UUID: Microversion = Microversion::new(2, 53);
pub const SERVICES_FORCE_DOWN: Microversion = Microversion::new(2, 11);
pub const SERVERS_EMBEDDED_FLAVOR: Microversion = Microversion::new(2, 47);
/// Below this, `onSharedStorage` is required; from it on, rejected.
pub const EVACUATE_NO_SHARED_STORAGE: Microversion = Microversion::new(2, 14);
/// The last microversion at which an evacuated server keeps its power
/// state; from 2.95 it arrives SHUTOFF.
pub const EVACUATE_KEEPS_POWER_STATE: Microversion = Microversion::new(2, 94);
pub const MIGRATIONS_PAGED: Microversion = Microversion::new(2, 59);
pub const MIGRATIONS_TYPE: Microversion = Microversion::new(2, 23);
pub const HYPERVISORS_UUID: Microversion = Microversion::new(2, 53);
/// Guard against a server whose paging links never end.
const MAX_PAGES: usize = 10_000;

/// Nova ids are integers before 2.53 (services, hypervisors) and for
/// migrations; carry them all as strings.
fn id_string<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

fn opt_string<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

fn null_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// String map whose values may be written as numbers or booleans by odd
/// clients (extra specs, metadata, image properties).
pub(crate) fn string_map<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeMap<String, String>, D::Error> {
    let m = Option::<BTreeMap<String, Value>>::deserialize(d)?.unwrap_or_default();
    Ok(m.into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            Value::Null => None,
            other => Some((k, other.to_string())),
        })
        .collect())
}

/// A nova-compute (or other) service record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// UUID from 2.53, integer (as text) before.
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub binary: String,
    #[serde(default, deserialize_with = "null_default")]
    pub host: String,
    #[serde(default, deserialize_with = "null_default")]
    pub zone: String,
    /// `enabled` / `disabled`.
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
    /// `up` / `down`.
    #[serde(default, deserialize_with = "null_default")]
    pub state: String,
    #[serde(default, deserialize_with = "null_default")]
    pub forced_down: bool,
    #[serde(default)]
    pub disabled_reason: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

impl Service {
    pub fn is_up(&self) -> bool {
        self.state == "up"
    }
    pub fn is_enabled(&self) -> bool {
        self.status == "enabled"
    }
}

/// A change to a service record; unset fields are left alone.
///
/// At 2.53+ this is one `PUT /os-services/{id}`; with the legacy (2.11)
/// endpoints it is up to two calls, `forced_down` first (so a host being
/// fenced is marked down before anything else, as fence_compute does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceUpdate {
    /// Mark the service down now (fencing confirmed), or clear the mark.
    pub forced_down: Option<bool>,
    /// Enable (`true`) or disable (`false`) scheduling to the host.
    pub enabled: Option<bool>,
    /// Only with `enabled: Some(false)`.
    pub disabled_reason: Option<String>,
}

/// The flavor of a server: embedded (2.47+: `original_name` and
/// `extra_specs`) or looked up by id (older Novas).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flavor {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub original_name: Option<String>,
    #[serde(default, deserialize_with = "string_map")]
    pub extra_specs: BTreeMap<String, String>,
}

/// A server (instance) as seen by an admin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Server {
    pub id: String,
    pub name: String,
    /// API status: ACTIVE, SHUTOFF, ERROR, REBUILD, ...
    pub status: String,
    /// `OS-EXT-SRV-ATTR:host`: the compute service host.
    pub host: Option<String>,
    pub hypervisor_hostname: Option<String>,
    pub vm_state: Option<String>,
    pub task_state: Option<String>,
    /// 0 NOSTATE, 1 RUNNING, 3 PAUSED, 4 SHUTDOWN, 6 CRASHED, 7 SUSPENDED.
    pub power_state: Option<i64>,
    pub flavor: Flavor,
    /// None when booted from volume (Nova sends `"image": ""`).
    pub image_id: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub tenant_id: String,
    pub updated: String,
}

#[derive(Deserialize)]
struct ServerJson {
    #[serde(deserialize_with = "id_string")]
    id: String,
    #[serde(default, deserialize_with = "null_default")]
    name: String,
    #[serde(default, deserialize_with = "null_default")]
    status: String,
    #[serde(
        rename = "OS-EXT-SRV-ATTR:host",
        default,
        deserialize_with = "opt_string"
    )]
    host: Option<String>,
    #[serde(
        rename = "OS-EXT-SRV-ATTR:hypervisor_hostname",
        default,
        deserialize_with = "opt_string"
    )]
    hypervisor_hostname: Option<String>,
    #[serde(
        rename = "OS-EXT-STS:vm_state",
        default,
        deserialize_with = "opt_string"
    )]
    vm_state: Option<String>,
    #[serde(
        rename = "OS-EXT-STS:task_state",
        default,
        deserialize_with = "opt_string"
    )]
    task_state: Option<String>,
    #[serde(rename = "OS-EXT-STS:power_state", default)]
    power_state: Option<i64>,
    #[serde(default)]
    flavor: Value,
    #[serde(default)]
    image: Value,
    #[serde(default, deserialize_with = "string_map")]
    metadata: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_default")]
    tenant_id: String,
    #[serde(default, deserialize_with = "null_default")]
    updated: String,
}

impl From<ServerJson> for Server {
    fn from(s: ServerJson) -> Server {
        let flavor = serde_json::from_value::<Flavor>(s.flavor.clone()).unwrap_or_default();
        let image_id = match &s.image {
            Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
            Value::String(id) if !id.is_empty() => Some(id.clone()),
            _ => None,
        };
        Server {
            id: s.id,
            name: s.name,
            status: s.status,
            host: s.host,
            hypervisor_hostname: s.hypervisor_hostname,
            vm_state: s.vm_state,
            task_state: s.task_state,
            power_state: s.power_state,
            flavor,
            image_id,
            metadata: s.metadata,
            tenant_id: s.tenant_id,
            updated: s.updated,
        }
    }
}

/// A migration record (evacuations are `migration_type = evacuation`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    /// From 2.59.
    #[serde(default)]
    pub uuid: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub instance_uuid: String,
    #[serde(default)]
    pub source_compute: Option<String>,
    #[serde(default)]
    pub dest_compute: Option<String>,
    /// accepted, pre-migrating, migrating, done, failed, error, ...
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
    /// From 2.23.
    #[serde(default)]
    pub migration_type: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// Filters for [`Nova::migrations`]; unset fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationFilter {
    pub instance_uuid: Option<String>,
    pub source_compute: Option<String>,
    pub migration_type: Option<String>,
    pub status: Option<String>,
}

impl MigrationFilter {
    /// Evacuations away from `host`.
    pub fn evacuations_from(host: &str) -> Self {
        MigrationFilter {
            source_compute: Some(host.to_string()),
            migration_type: Some("evacuation".to_string()),
            ..Default::default()
        }
    }
}

/// A hypervisor (compute node).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Hypervisor {
    pub id: String,
    pub hypervisor_hostname: String,
    /// `up` / `down`.
    pub state: Option<String>,
    /// `enabled` / `disabled`.
    pub status: Option<String>,
    /// The compute service host (`service.host`).
    pub host: Option<String>,
    pub host_ip: Option<String>,
    /// Removed from the API in 2.88.
    pub running_vms: Option<u64>,
}

#[derive(Deserialize)]
struct HypervisorJson {
    #[serde(deserialize_with = "id_string")]
    id: String,
    #[serde(default, deserialize_with = "null_default")]
    hypervisor_hostname: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    service: Option<HypervisorService>,
    #[serde(default, deserialize_with = "opt_string")]
    host_ip: Option<String>,
    #[serde(default)]
    running_vms: Option<u64>,
}

#[derive(Deserialize)]
struct HypervisorService {
    #[serde(default)]
    host: Option<String>,
}

/// Evacuation parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvacuateOptions {
    /// Target host; None lets the scheduler choose. `force` is never sent
    /// (it bypasses the scheduler's checks).
    pub host: Option<String>,
    /// Only used below 2.14, where Nova needs to be told; from 2.14 Nova
    /// checks the storage itself (a wrong hint there puts instances in
    /// ERROR, the reference agents' defect).
    pub on_shared_storage: bool,
    /// Default: the highest offered version <= 2.94.
    pub microversion: Option<Microversion>,
}

/// What an accepted evacuation request was sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evacuation {
    pub microversion: Microversion,
    /// From 2.95 the server arrives SHUTOFF on the new host, whatever its
    /// power state was.
    pub arrives_stopped: bool,
}

/// Typed Nova client over a shared [`Session`].
#[derive(Debug)]
pub struct Nova {
    session: Arc<Session>,
    versions: OnceLock<VersionRange>,
}

impl Nova {
    /// No I/O: the first call authenticates (if needed) and discovers the
    /// microversions the compute endpoint offers.
    pub fn new(session: Arc<Session>) -> Nova {
        Nova {
            session,
            versions: OnceLock::new(),
        }
    }

    /// Skip discovery (versions known from a previous run or a test).
    pub fn with_versions(session: Arc<Session>, versions: VersionRange) -> Nova {
        Nova {
            session,
            versions: OnceLock::from(versions),
        }
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// The microversions the compute endpoint offers (`GET` on the
    /// endpoint root: `{"version": {"min_version", "version"}}`), asked
    /// once per `Nova`; every call picks its microversion from this range.
    pub fn versions(&self) -> Result<VersionRange> {
        if let Some(v) = self.versions.get() {
            return Ok(*v);
        }
        let v = discover_versions(&self.session)?;
        Ok(*self.versions.get_or_init(|| v))
    }

    fn services_version(&self) -> Result<Microversion> {
        let r = self.versions()?;
        Ok(r.offers(SERVICES_UUID)
            .or_else(|| r.highest_up_to(SERVICES_FORCE_DOWN))
            .unwrap_or(r.min))
    }

    /// nova-compute services, all or those of `host`.
    pub fn compute_services(&self, host: Option<&str>) -> Result<Vec<Service>> {
        let mut req = Request::get(SERVICE, "/os-services")
            .query("binary", "nova-compute")
            .microversion(self.services_version()?);
        if let Some(h) = host {
            req = req.query("host", h);
        }
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            services: Vec<Service>,
        }
        Ok(self.session.request(req)?.json::<Page>()?.services)
    }

    /// Apply `update` to a service. Uses `PUT /os-services/{uuid}` at
    /// 2.53+, the legacy host+binary endpoints otherwise.
    pub fn update_service(&self, service: &Service, update: &ServiceUpdate) -> Result<()> {
        if update.disabled_reason.is_some() && update.enabled != Some(false) {
            return Err(Error::usage(
                "a service disabled_reason goes with enabled: Some(false)",
            ));
        }
        if update == &ServiceUpdate::default() {
            return Ok(());
        }
        let v = self.services_version()?;
        if v >= SERVICES_UUID {
            let id = if is_uuid_like(&service.id) {
                service.id.clone()
            } else {
                // Listed with an older microversion (integer id): look the
                // UUID up rather than addressing the wrong record.
                self.compute_services(Some(&service.host))?
                    .into_iter()
                    .find(|s| {
                        s.host == service.host
                            && (s.binary == service.binary || service.binary.is_empty())
                    })
                    .map(|s| s.id)
                    .ok_or_else(|| {
                        Error::NotFound(format!("no nova-compute service on host {}", service.host))
                    })?
            };
            let mut body = serde_json::Map::new();
            if let Some(f) = update.forced_down {
                body.insert("forced_down".into(), json!(f));
            }
            if let Some(e) = update.enabled {
                body.insert(
                    "status".into(),
                    json!(if e { "enabled" } else { "disabled" }),
                );
            }
            if let Some(r) = &update.disabled_reason {
                body.insert("disabled_reason".into(), json!(r));
            }
            let req = Request::put(
                SERVICE,
                &format!("/os-services/{}", encode_segment(&id)),
                Value::Object(body),
            )
            .microversion(v);
            self.session.request(req)?;
            return Ok(());
        }
        let binary = if service.binary.is_empty() {
            "nova-compute"
        } else {
            &service.binary
        };
        if let Some(f) = update.forced_down {
            if v < SERVICES_FORCE_DOWN {
                return Err(Error::config(format!(
                    "this Nova offers microversions {} only; forcing a service down needs {SERVICES_FORCE_DOWN}",
                    self.versions()?
                )));
            }
            let body = json!({ "host": service.host, "binary": binary, "forced_down": f });
            self.session
                .request(Request::put(SERVICE, "/os-services/force-down", body).microversion(v))?;
        }
        let (path, body) = match (update.enabled, &update.disabled_reason) {
            (None, _) => return Ok(()),
            (Some(true), _) => (
                "/os-services/enable",
                json!({ "host": service.host, "binary": binary }),
            ),
            (Some(false), Some(r)) => (
                "/os-services/disable-log-reason",
                json!({ "host": service.host, "binary": binary, "disabled_reason": r }),
            ),
            (Some(false), None) => (
                "/os-services/disable",
                json!({ "host": service.host, "binary": binary }),
            ),
        };
        self.session
            .request(Request::put(SERVICE, path, body).microversion(v))?;
        Ok(())
    }

    fn servers_version(&self) -> Result<Microversion> {
        let r = self.versions()?;
        Ok(r.highest_up_to(SERVERS_EMBEDDED_FLAVOR).unwrap_or(r.min))
    }

    /// All servers whose compute host is `host` (all projects), following
    /// pagination. Flavor extra specs are filled in either way.
    pub fn servers_on_host(&self, host: &str) -> Result<Vec<Server>> {
        let v = self.servers_version()?;
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            servers: Vec<ServerJson>,
            #[serde(default)]
            servers_links: Vec<Link>,
        }
        let mut out: Vec<Server> = Vec::new();
        let mut marker: Option<String> = None;
        let mut seen = BTreeSet::new();
        for _ in 0..MAX_PAGES {
            let mut req = Request::get(SERVICE, "/servers/detail")
                .query("all_tenants", "1")
                .query("host", host)
                .microversion(v);
            if let Some(m) = &marker {
                req = req.query("marker", m);
            }
            let page: Page = self.session.request(req)?.json()?;
            let last = page.servers.last().map(|s| s.id.clone());
            out.extend(page.servers.into_iter().map(Server::from));
            match next_marker(&page.servers_links, last) {
                Some(m) if seen.insert(m.clone()) => marker = Some(m),
                _ => break,
            }
        }
        if v < SERVERS_EMBEDDED_FLAVOR {
            self.fill_extra_specs(&mut out)?;
        }
        Ok(out)
    }

    /// One server; `Error::NotFound` when Nova does not know it.
    pub fn get_server(&self, id: &str) -> Result<Server> {
        let v = self.servers_version()?;
        #[derive(Deserialize)]
        struct One {
            server: ServerJson,
        }
        let req =
            Request::get(SERVICE, &format!("/servers/{}", encode_segment(id))).microversion(v);
        let one: One = match self.session.request(req) {
            Ok(r) => r.json()?,
            Err(e) if e.http_status() == Some(404) => {
                return Err(Error::NotFound(format!("server {id} not found")))
            }
            Err(e) => return Err(e),
        };
        let mut s = vec![Server::from(one.server)];
        if v < SERVERS_EMBEDDED_FLAVOR {
            self.fill_extra_specs(&mut s)?;
        }
        Ok(s.pop().expect("one server"))
    }

    /// Before 2.47 servers carry only a flavor id: fetch each distinct
    /// flavor's extra specs once. A deleted flavor has none (404).
    fn fill_extra_specs(&self, servers: &mut [Server]) -> Result<()> {
        let mut cache: HashMap<String, BTreeMap<String, String>> = HashMap::new();
        for s in servers.iter_mut() {
            let Some(fid) = s.flavor.id.clone() else {
                continue;
            };
            if !cache.contains_key(&fid) {
                let specs = match self.flavor_extra_specs(&fid) {
                    Ok(m) => m,
                    Err(e) if e.http_status() == Some(404) => BTreeMap::new(),
                    Err(e) => return Err(e),
                };
                cache.insert(fid.clone(), specs);
            }
            s.flavor.extra_specs = cache[&fid].clone();
        }
        Ok(())
    }

    /// Extra specs of a flavor, private flavors included (admin). The route
    /// is `os-extra_specs`, with an underscore (the hyphenated spelling is a
    /// 404 from Nova's router, which a lenient double once hid).
    pub fn flavor_extra_specs(&self, flavor_id: &str) -> Result<BTreeMap<String, String>> {
        #[derive(Deserialize)]
        struct Specs {
            #[serde(default, deserialize_with = "string_map")]
            extra_specs: BTreeMap<String, String>,
        }
        let req = Request::get(
            SERVICE,
            &format!("/flavors/{}/os-extra_specs", encode_segment(flavor_id)),
        );
        Ok(self.session.request(req)?.json::<Specs>()?.extra_specs)
    }

    /// Ask Nova to rebuild `server_id` elsewhere. Success means Nova
    /// accepted the request, not that the server is running again: follow
    /// up with [`Nova::get_server`] / [`Nova::migrations`].
    pub fn evacuate(&self, server_id: &str, opts: &EvacuateOptions) -> Result<Evacuation> {
        let range = self.versions()?;
        let v = match opts.microversion {
            Some(v) if !range.contains(v) => {
                return Err(Error::config(format!(
                    "evacuate: microversion {v} requested, this Nova offers {range}"
                )))
            }
            Some(v) => v,
            None => range
                .highest_up_to(EVACUATE_KEEPS_POWER_STATE)
                .unwrap_or(range.min),
        };
        let mut e = serde_json::Map::new();
        if let Some(h) = &opts.host {
            e.insert("host".into(), json!(h));
        }
        if v < EVACUATE_NO_SHARED_STORAGE {
            e.insert("onSharedStorage".into(), json!(opts.on_shared_storage));
        }
        let req = Request::post(
            SERVICE,
            &format!("/servers/{}/action", encode_segment(server_id)),
            json!({ "evacuate": e }),
        )
        .microversion(v);
        // The body (adminPass below 2.14) is deliberately not read.
        self.session.request(req)?;
        Ok(Evacuation {
            microversion: v,
            arrives_stopped: v > EVACUATE_KEEPS_POWER_STATE,
        })
    }

    pub fn start_server(&self, server_id: &str) -> Result<()> {
        self.server_action(server_id, "os-start")
    }

    pub fn stop_server(&self, server_id: &str) -> Result<()> {
        self.server_action(server_id, "os-stop")
    }

    fn server_action(&self, server_id: &str, action: &str) -> Result<()> {
        let req = Request::post(
            SERVICE,
            &format!("/servers/{}/action", encode_segment(server_id)),
            json!({ action: null }),
        );
        self.session.request(req)?;
        Ok(())
    }

    /// Migration records matching `filter`, following pagination (2.59+).
    pub fn migrations(&self, filter: &MigrationFilter) -> Result<Vec<Migration>> {
        let r = self.versions()?;
        let v = r
            .offers(MIGRATIONS_PAGED)
            .or_else(|| r.highest_up_to(MIGRATIONS_TYPE))
            .unwrap_or(r.min);
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            migrations: Vec<Migration>,
            #[serde(default)]
            migrations_links: Vec<Link>,
        }
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        let mut seen = BTreeSet::new();
        for _ in 0..MAX_PAGES {
            let mut req = Request::get(SERVICE, "/os-migrations").microversion(v);
            for (k, val) in [
                ("instance_uuid", &filter.instance_uuid),
                ("source_compute", &filter.source_compute),
                ("migration_type", &filter.migration_type),
                ("status", &filter.status),
            ] {
                if let Some(val) = val {
                    req = req.query(k, val);
                }
            }
            if let Some(m) = &marker {
                req = req.query("marker", m);
            }
            let page: Page = self.session.request(req)?.json()?;
            let last = page.migrations.last().and_then(|m| m.uuid.clone());
            out.extend(page.migrations);
            match next_marker(&page.migrations_links, last) {
                Some(m) if seen.insert(m.clone()) => marker = Some(m),
                _ => break,
            }
        }
        Ok(out)
    }

    /// All hypervisors, following pagination.
    pub fn hypervisors(&self) -> Result<Vec<Hypervisor>> {
        let r = self.versions()?;
        let v = r.highest_up_to(HYPERVISORS_UUID).unwrap_or(r.min);
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            hypervisors: Vec<HypervisorJson>,
            #[serde(default)]
            hypervisors_links: Vec<Link>,
        }
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        let mut seen = BTreeSet::new();
        for _ in 0..MAX_PAGES {
            let mut req = Request::get(SERVICE, "/os-hypervisors/detail").microversion(v);
            if let Some(m) = &marker {
                req = req.query("marker", m);
            }
            let page: Page = self.session.request(req)?.json()?;
            let last = page.hypervisors.last().map(|h| h.id.clone());
            out.extend(page.hypervisors.into_iter().map(|h| Hypervisor {
                id: h.id,
                hypervisor_hostname: h.hypervisor_hostname,
                state: h.state,
                status: h.status,
                host: h.service.and_then(|s| s.host),
                host_ip: h.host_ip,
                running_vms: h.running_vms,
            }));
            match next_marker(&page.hypervisors_links, last) {
                Some(m) if seen.insert(m.clone()) => marker = Some(m),
                _ => break,
            }
        }
        Ok(out)
    }
}

fn discover_versions(session: &Session) -> Result<VersionRange> {
    match session.request(Request::get(SERVICE, "")) {
        Ok(resp) => {
            if let Some(v) = parse_version_document(&resp.body) {
                return Ok(v);
            }
        }
        Err(e) if matches!(e.http_status(), Some(404 | 300)) => {}
        Err(e) => return Err(e),
    }
    // Endpoints registered as `/v2.1/<project_id>`: ask `/v2.1/`.
    let ep = session.endpoint(SERVICE)?;
    if let Some(i) = ep.find("/v2.1/") {
        let resp = session.get_absolute(SERVICE, &ep[..i + 6])?;
        if let Some(v) = parse_version_document(&resp.body) {
            return Ok(v);
        }
    }
    Err(Error::BadResponse {
        service: SERVICE.into(),
        message: format!(
            "no version document at {ep} (cannot tell which microversions are supported)"
        ),
    })
}

#[derive(Deserialize)]
struct Link {
    #[serde(default)]
    rel: String,
    #[serde(default)]
    href: String,
}

/// The marker of the `next` link: taken from its query (the link's host
/// may be a name we cannot reach, so only the marker is reused), else the
/// last item of the page.
fn next_marker(links: &[Link], last_id: Option<String>) -> Option<String> {
    let next = links.iter().find(|l| l.rel == "next")?;
    let query = next.href.split_once('?').map(|(_, q)| q).unwrap_or("");
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "marker")
        .map(|(_, v)| percent_decode(v))
        .filter(|m| !m.is_empty())
        .or(last_id)
}

fn percent_decode(s: &str) -> String {
    let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16)).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (hex(b.get(i + 1)), hex(b.get(i + 2))) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_uuid_like(s: &str) -> bool {
    s.len() >= 32 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// `{"version": {"version": "2.103", "min_version": "2.1"}}` (versioned
/// root) or `{"versions": [...]}` (unversioned root, CURRENT entry).
pub(crate) fn parse_version_document(body: &str) -> Option<VersionRange> {
    let doc: Value = serde_json::from_str(body).ok()?;
    let v = match (
        doc.get("version"),
        doc.get("versions").and_then(Value::as_array),
    ) {
        (Some(v @ Value::Object(_)), _) => v.clone(),
        (_, Some(list)) => list
            .iter()
            .find(|v| v.get("status").and_then(Value::as_str) == Some("CURRENT"))
            .or_else(|| {
                list.iter()
                    .find(|v| v.get("id").and_then(Value::as_str) == Some("v2.1"))
            })?
            .clone(),
        _ => return None,
    };
    let base = Microversion::new(2, 1);
    let get = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .and_then(|s| s.parse().ok())
    };
    // Empty strings: a Nova without microversions (only the 2.1 base).
    let max: Microversion = get("version").unwrap_or(base);
    let min: Microversion = get("min_version").unwrap_or(base).min(max);
    Some(VersionRange { min, max })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_documents() {
        let r = parse_version_document(
            r#"{"version": {"id": "v2.1", "status": "CURRENT", "version": "2.103", "min_version": "2.1", "links": []}}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            VersionRange {
                min: Microversion::new(2, 1),
                max: Microversion::new(2, 103)
            }
        );
        let r = parse_version_document(
            r#"{"versions": [{"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": ""},
                              {"id": "v2.1", "status": "CURRENT", "version": "2.60", "min_version": "2.1"}]}"#,
        )
        .unwrap();
        assert_eq!(r.max, Microversion::new(2, 60));
        let r = parse_version_document(
            r#"{"version": {"id": "v2.0", "version": "", "min_version": ""}}"#,
        )
        .unwrap();
        assert_eq!(r.max, Microversion::new(2, 1));
        assert!(parse_version_document("<html>").is_none());
    }

    #[test]
    fn server_parsing_tolerates_shapes() {
        let j = r#"{"id": "s1", "name": "vm", "status": "ACTIVE", "OS-EXT-SRV-ATTR:host": "c1",
            "OS-EXT-STS:vm_state": "active", "OS-EXT-STS:task_state": null, "OS-EXT-STS:power_state": 1,
            "flavor": {"original_name": "m1", "vcpus": 1, "extra_specs": {"evacuable": "true", "hw:cpu": 2}},
            "image": "", "metadata": {"HA": "yes"}, "tenant_id": "p", "updated": "2026-01-01T00:00:00Z"}"#;
        let s: Server = serde_json::from_str::<ServerJson>(j).unwrap().into();
        assert_eq!(s.host.as_deref(), Some("c1"));
        assert_eq!(s.task_state, None);
        assert_eq!(s.power_state, Some(1));
        assert_eq!(s.image_id, None);
        assert_eq!(s.flavor.original_name.as_deref(), Some("m1"));
        assert_eq!(s.flavor.extra_specs["evacuable"], "true");
        assert_eq!(s.flavor.extra_specs["hw:cpu"], "2");
        let old = r#"{"id": "s2", "flavor": {"id": "42", "links": []}, "image": {"id": "img", "links": []}, "metadata": null}"#;
        let s: Server = serde_json::from_str::<ServerJson>(old).unwrap().into();
        assert_eq!(s.flavor.id.as_deref(), Some("42"));
        assert_eq!(s.image_id.as_deref(), Some("img"));
        assert!(s.metadata.is_empty());
    }

    #[test]
    fn service_ids_int_or_uuid() {
        let s: Service = serde_json::from_str(r#"{"id": 7, "binary": "nova-compute", "host": "c1", "zone": "nova",
            "status": "disabled", "state": "down", "forced_down": true, "disabled_reason": "fenced", "updated_at": null}"#)
        .unwrap();
        assert_eq!(s.id, "7");
        assert!(!s.is_up() && !s.is_enabled() && s.forced_down);
        let s: Service =
            serde_json::from_str(r#"{"id": "e81d66a4-ddd3-4aba-8a84-171d1cb4d339", "host": "c2"}"#)
                .unwrap();
        assert!(is_uuid_like(&s.id));
        assert!(!is_uuid_like("7"));
        assert!(!s.forced_down);
    }

    #[test]
    fn paging_markers() {
        let links = vec![Link {
            rel: "next".into(),
            href: "http://other/v2.1/servers/detail?host=c1&limit=2&marker=ab%2Dc".into(),
        }];
        assert_eq!(
            next_marker(&links, Some("zz".into())).as_deref(),
            Some("ab-c")
        );
        let links = vec![Link {
            rel: "next".into(),
            href: "http://other/v2.1/servers/detail?limit=2".into(),
        }];
        assert_eq!(
            next_marker(&links, Some("zz".into())).as_deref(),
            Some("zz")
        );
        assert_eq!(next_marker(&[], Some("zz".into())), None);
        assert_eq!(percent_decode("a%20b%zz%"), "a b%zz%");
        assert_eq!(percent_decode("%é%4"), "%é%4");
    }

    #[test]
    fn migration_parsing() {
        let m: Migration = serde_json::from_str(r#"{"id": 12, "uuid": "u", "instance_uuid": "i", "source_compute": "c1",
            "dest_compute": null, "status": "accepted", "migration_type": "evacuation", "created_at": "t", "updated_at": null}"#)
        .unwrap();
        assert_eq!(m.id, "12");
        assert_eq!(m.dest_compute, None);
        assert_eq!(m.migration_type.as_deref(), Some("evacuation"));
    }
}

/// A flavor as listed (id and name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlavorInfo {
    pub id: String,
    pub name: String,
}

/// From 2.61 `/flavors/detail` carries each flavor's extra specs.
pub const FLAVORS_EXTRA_SPECS: Microversion = Microversion::new(2, 61);

impl Nova {
    /// Every flavor (private ones too: `is_public=None`, admin) that has
    /// extra spec `key`, with its value. One request from 2.61, else one
    /// more per flavor.
    pub fn flavors_with_spec(&self, key: &str) -> Result<Vec<(FlavorInfo, String)>> {
        #[derive(Deserialize)]
        struct F {
            #[serde(deserialize_with = "id_string")]
            id: String,
            #[serde(default)]
            name: String,
            #[serde(default)]
            extra_specs: Option<BTreeMap<String, Value>>,
        }
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            flavors: Vec<F>,
            #[serde(default)]
            flavors_links: Vec<Link>,
        }
        let r = self.versions()?;
        let v = r.highest_up_to(FLAVORS_EXTRA_SPECS).unwrap_or(r.min);
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        let mut seen = BTreeSet::new();
        for _ in 0..MAX_PAGES {
            let mut req = Request::get(SERVICE, "/flavors/detail")
                .query("is_public", "None")
                .microversion(v);
            if let Some(m) = &marker {
                req = req.query("marker", m);
            }
            #[allow(clippy::type_complexity)]
            let page: Page = self.session.request(req)?.json()?;
            let last = page.flavors.last().map(|f| f.id.clone());
            for f in page.flavors {
                let specs: BTreeMap<String, String> = match f.extra_specs {
                    Some(m) => m
                        .into_iter()
                        .map(|(k, v)| {
                            (
                                k,
                                v.as_str()
                                    .map(str::to_string)
                                    .unwrap_or_else(|| v.to_string()),
                            )
                        })
                        .collect(),
                    None => match self.flavor_extra_specs(&f.id) {
                        Ok(m) => m,
                        Err(e) if e.http_status() == Some(404) => BTreeMap::new(),
                        Err(e) => return Err(e),
                    },
                };
                if let Some(val) = specs.get(key) {
                    out.push((
                        FlavorInfo {
                            id: f.id,
                            name: f.name,
                        },
                        val.clone(),
                    ));
                }
            }
            match next_marker(&page.flavors_links, last) {
                Some(m) if seen.insert(m.clone()) => marker = Some(m),
                _ => break,
            }
        }
        Ok(out)
    }
}
