//! Keystone v3 session: one HTTP agent, one token, the service catalog,
//! and the single entry point [`Session::request`] that every OpenStack
//! call goes through (auth header, microversion headers, re-auth on 401,
//! error mapping).
//!
//! `Session` is `Send + Sync`: the evacuation engine shares one session
//! (behind an `Arc`) between its worker threads. The token sits behind an
//! `RwLock` (readers never wait for each other) and re-authentication is
//! serialised by a mutex so that a burst of 401s from many threads costs
//! one Keystone request, not one per thread.

use std::fmt;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use super::config::{AuthType, CloudConfig, Interface, Secret, DEFAULT_DOMAIN_ID};
use super::microversion::Microversion;
use super::time::{now_unix, parse_rfc3339};
use crate::error::{redact, Error, Result};

/// A token this close to expiry is renewed before use: a request started
/// with it could be refused mid-flight (and a long evacuation run makes
/// dozens of calls).
const EXPIRY_MARGIN_SECS: i64 = 60;
/// Upper bound on a response body: a 1000-server page with embedded
/// flavors is a few MB; anything far beyond that is not Nova talking.
const MAX_BODY: u64 = 64 << 20;
/// System CA bundles, Debian/Ubuntu then RHEL/Fedora.
const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];

/// HTTP method of a [`Request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One API call, relative to a service's catalog endpoint.
#[derive(Debug, Clone)]
pub struct Request {
    /// Catalog service type: `compute`, `image`, `identity`, ...
    pub service: String,
    pub method: Method,
    /// Relative to the endpoint (`/os-services`, `servers/detail`); path
    /// segments taken from data must be encoded with [`encode_segment`].
    pub path: String,
    /// Query parameters, percent-encoded by the session.
    pub query: Vec<(String, String)>,
    pub microversion: Option<Microversion>,
    pub body: Option<Value>,
}

impl Request {
    pub fn new(service: &str, method: Method, path: &str) -> Self {
        Request {
            service: service.to_string(),
            method,
            path: path.to_string(),
            query: Vec::new(),
            microversion: None,
            body: None,
        }
    }
    pub fn get(service: &str, path: &str) -> Self {
        Self::new(service, Method::Get, path)
    }
    pub fn post(service: &str, path: &str, body: Value) -> Self {
        Self::new(service, Method::Post, path).json(body)
    }
    pub fn put(service: &str, path: &str, body: Value) -> Self {
        Self::new(service, Method::Put, path).json(body)
    }
    pub fn delete(service: &str, path: &str) -> Self {
        Self::new(service, Method::Delete, path)
    }
    pub fn query(mut self, key: &str, value: impl fmt::Display) -> Self {
        self.query.push((key.to_string(), value.to_string()));
        self
    }
    pub fn microversion(mut self, v: Microversion) -> Self {
        self.microversion = Some(v);
        self
    }
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// A 2xx answer (non-2xx answers become errors).
#[derive(Clone)]
pub struct Response {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// For error messages: `compute`, `GET /servers/detail`.
    service: String,
    context: String,
}

/// Headers that carry credentials (Keystone returns the token in
/// `X-Subject-Token`); never printed.
const SECRET_HEADERS: &[&str] = &[
    "x-subject-token",
    "x-auth-token",
    "authorization",
    "set-cookie",
];

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    if SECRET_HEADERS.contains(&k.as_str()) {
                        "<redacted>"
                    } else {
                        v.as_str()
                    },
                )
            })
            .collect();
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &headers)
            .field("body", &redact(&self.body))
            .finish()
    }
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Deserialize the body; a mismatch is `Error::BadResponse`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_str(&self.body).map_err(|e| Error::BadResponse {
            service: self.service.clone(),
            message: format!("{}: {e}", self.context),
        })
    }
}

/// One endpoint of a catalog entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Endpoint {
    #[serde(default)]
    pub interface: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub region: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub region_id: String,
    pub url: String,
}

/// A service of the token's catalog.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CatalogEntry {
    #[serde(rename = "type")]
    pub service_type: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

fn null_as_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Counters for measuring what the session cost (Keystone round trips,
/// cache effect); cheap relaxed atomics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// API requests sent (including retries and version discovery).
    pub requests: u64,
    /// `POST /auth/tokens` sent to Keystone.
    pub token_requests: u64,
    /// Tokens taken from the on-disk cache.
    pub token_cache_hits: u64,
    /// Tokens written to the on-disk cache.
    pub token_cache_writes: u64,
    /// 401 answers that caused a re-authentication.
    pub reauth_after_401: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    token_requests: AtomicU64,
    token_cache_hits: AtomicU64,
    token_cache_writes: AtomicU64,
    reauth_after_401: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A token and what came with it.
struct Auth {
    token: Secret,
    expires_at: Option<i64>,
    catalog: Vec<CatalogEntry>,
}

impl Auth {
    fn fresh(&self) -> bool {
        self.expires_at
            .map_or(true, |e| e - now_unix() > EXPIRY_MARGIN_SECS)
    }
}

/// Authenticated access to one cloud. See the module documentation.
pub struct Session {
    config: CloudConfig,
    agent: ureq::Agent,
    auth: RwLock<Option<Arc<Auth>>>,
    /// Held while talking to Keystone, so concurrent callers wait for one
    /// token instead of each requesting their own.
    auth_lock: Mutex<()>,
    identity_url: OnceLock<String>,
    cache: Option<TokenCache>,
    counters: Counters,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("config", &self.config)
            .field(
                "authenticated",
                &self.auth.read().map(|a| a.is_some()).unwrap_or(false),
            )
            .field("token_cache", &self.cache.as_ref().map(|c| &c.dir))
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Session {
    /// Check the configuration and build the HTTP agent. No network I/O:
    /// the first request authenticates.
    pub fn new(config: CloudConfig) -> Result<Session> {
        config.validate()?;
        let tls = tls_config(&config, |k| std::env::var(k).ok())?;
        let connect = config.effective_connect_timeout();
        let read = config.effective_read_timeout();
        let agent_config = ureq::Agent::config_builder()
            // Error bodies carry the service's explanation; we map status
            // codes ourselves.
            .http_status_as_error(false)
            // OpenStack APIs do not redirect; following one would send
            // X-Auth-Token to wherever the Location points.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .tls_config(tls)
            .user_agent(concat!("instance-ha/", env!("CARGO_PKG_VERSION")))
            .timeout_resolve(Some(connect))
            .timeout_connect(Some(connect))
            .timeout_send_request(Some(read))
            .timeout_send_body(Some(read))
            .timeout_recv_response(Some(read))
            .timeout_recv_body(Some(read))
            // Many requests run in parallel (the engine); keep their
            // connections (and TLS sessions) instead of ureq's default 3.
            .max_idle_connections(256)
            .max_idle_connections_per_host(128)
            .build();
        Ok(Session {
            agent: agent_config.new_agent(),
            config,
            auth: RwLock::new(None),
            auth_lock: Mutex::new(()),
            identity_url: OnceLock::new(),
            cache: None,
            counters: Counters::default(),
        })
    }

    /// Keep tokens (with expiry and catalog) in `dir`, one file per
    /// credential identity, so that short-lived agent processes skip the
    /// Keystone round trip. The directory is created 0700; the cache is
    /// silently unused when the directory or a file is not private to the
    /// current user (a token is as good as the password for its lifetime).
    pub fn with_token_cache(mut self, dir: impl Into<PathBuf>) -> Session {
        self.cache = Some(TokenCache::new(dir.into(), &self.config));
        self
    }

    pub fn config(&self) -> &CloudConfig {
        &self.config
    }

    pub fn stats(&self) -> SessionStats {
        let c = &self.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SessionStats {
            requests: g(&c.requests),
            token_requests: g(&c.token_requests),
            token_cache_hits: g(&c.token_cache_hits),
            token_cache_writes: g(&c.token_cache_writes),
            reauth_after_401: g(&c.reauth_after_401),
        }
    }

    /// Make sure a usable token is held (from memory, the cache or
    /// Keystone).
    pub fn authenticate(&self) -> Result<()> {
        self.current_auth().map(|_| ())
    }

    /// Drop the token in memory and in the cache; the next request
    /// authenticates again.
    pub fn invalidate(&self) {
        *self.auth.write().unwrap_or_else(|e| e.into_inner()) = None;
        if let Some(c) = &self.cache {
            c.remove();
        }
    }

    /// The URL of `service_type` for the configured interface and region.
    pub fn endpoint(&self, service_type: &str) -> Result<String> {
        let auth = self.current_auth()?;
        find_endpoint(
            &auth.catalog,
            service_type,
            self.config.effective_interface(),
            self.config.region_name.as_deref(),
        )
    }

    /// The catalog of the current token.
    pub fn catalog(&self) -> Result<Vec<CatalogEntry>> {
        Ok(self.current_auth()?.catalog.clone())
    }

    /// Send `req` to its service. 2xx -> `Ok`; a 401 re-authenticates
    /// and retries once (the token may have been revoked or expired
    /// early); other statuses -> `Error::Api` with the service's message.
    pub fn request(&self, req: Request) -> Result<Response> {
        let auth = self.current_auth()?;
        let url = self.url_for(&auth, &req)?;
        let resp = self.send_api(&req, &url, &auth)?;
        if resp.status != 401 {
            return check_status(&req, resp);
        }
        bump(&self.counters.reauth_after_401);
        let auth = self.refresh(Some(&auth))?;
        let url = self.url_for(&auth, &req)?;
        let resp = self.send_api(&req, &url, &auth)?;
        if resp.status == 401 {
            return Err(Error::Auth {
                url: strip_query(&url).to_string(),
                message: format!(
                    "{} refused a fresh token: {}",
                    req.service,
                    error_message(&resp.body, 401)
                ),
            });
        }
        check_status(&req, resp)
    }

    /// GET an absolute URL with the token (version documents that live
    /// outside the endpoint path). Same error handling as `request`.
    pub(crate) fn get_absolute(&self, service: &str, url: &str) -> Result<Response> {
        let req = Request::get(service, url);
        let auth = self.current_auth()?;
        let mut resp = self.send_api(&req, url, &auth)?;
        if resp.status == 401 {
            bump(&self.counters.reauth_after_401);
            let auth = self.refresh(Some(&auth))?;
            resp = self.send_api(&req, url, &auth)?;
        }
        check_status(&req, resp)
    }

    fn url_for(&self, auth: &Auth, req: &Request) -> Result<String> {
        let base = find_endpoint(
            &auth.catalog,
            &req.service,
            self.config.effective_interface(),
            self.config.region_name.as_deref(),
        )?;
        Ok(build_url(&base, &req.path, &req.query))
    }

    fn send_api(&self, req: &Request, url: &str, auth: &Auth) -> Result<Response> {
        let mut headers: Vec<(&str, String)> =
            vec![("X-Auth-Token", auth.token.expose().to_string())];
        if let Some(v) = req.microversion {
            if req.service == "compute" {
                // Older Novas only read the legacy header; newer ones
                // accept both (they must agree).
                headers.push(("X-OpenStack-Nova-API-Version", v.to_string()));
            }
            headers.push(("OpenStack-API-Version", format!("{} {v}", req.service)));
        }
        let body = req
            .body
            .as_ref()
            .map(|b| serde_json::to_vec(b).expect("serializing a JSON value cannot fail"));
        self.send(&req.service, req.method, url, &headers, body)
    }

    /// One HTTP exchange; transport failures mapped, any status returned.
    fn send(
        &self,
        service: &str,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Response> {
        bump(&self.counters.requests);
        let mut b = ureq::http::Request::builder()
            .method(method.as_str())
            .uri(url)
            .header("Accept", "application/json");
        for (k, v) in headers {
            b = b.header(*k, v.as_str());
        }
        let bad_request = |e: ureq::http::Error| {
            Error::config(format!(
                "{service}: cannot build request for {}: {e}",
                strip_query(url)
            ))
        };
        let result = match body {
            Some(bytes) => {
                b = b.header("Content-Type", "application/json");
                self.agent.run(b.body(bytes).map_err(bad_request)?)
            }
            None => self.agent.run(b.body(()).map_err(bad_request)?),
        };
        let mut resp = result.map_err(|e| map_transport_error(e, service, method, url))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| map_transport_error(e, service, method, url))?;
        let path = strip_query(url);
        Ok(Response {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            service: service.to_string(),
            context: format!("{method} {path}"),
        })
    }

    fn current_auth(&self) -> Result<Arc<Auth>> {
        if let Some(a) = self.auth.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if a.fresh() {
                return Ok(a.clone());
            }
        }
        self.refresh(None)
    }

    /// Get a new token. `rejected`: the token a service just refused (401);
    /// if another thread already replaced it, use the replacement.
    fn refresh(&self, rejected: Option<&Arc<Auth>>) -> Result<Arc<Auth>> {
        let _guard = lock(&self.auth_lock);
        let current = self.auth.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(cur) = current {
            let is_rejected = rejected.is_some_and(|r| Arc::ptr_eq(r, &cur));
            if !is_rejected && cur.fresh() {
                return Ok(cur);
            }
        }
        let from_cache = match (&self.cache, rejected) {
            // A refused token must not come back from the cache.
            (Some(c), Some(_)) => {
                c.remove();
                None
            }
            (Some(c), None) => c.load().filter(Auth::fresh),
            (None, _) => None,
        };
        let auth = match from_cache {
            Some(a) => {
                bump(&self.counters.token_cache_hits);
                a
            }
            None => {
                let a = self.request_token()?;
                if let Some(c) = &self.cache {
                    if c.store(&a) {
                        bump(&self.counters.token_cache_writes);
                    }
                }
                a
            }
        };
        let auth = Arc::new(auth);
        *self.auth.write().unwrap_or_else(|e| e.into_inner()) = Some(auth.clone());
        Ok(auth)
    }

    /// The Keystone v3 base URL (`.../v3`), discovered once.
    fn identity_v3(&self) -> Result<String> {
        if let Some(u) = self.identity_url.get() {
            return Ok(u.clone());
        }
        let auth_url = self.config.auth_url.as_deref().unwrap_or_default();
        let url = match v3_from_auth_url(auth_url) {
            Some(u) => u,
            None => self.discover_identity(auth_url)?,
        };
        Ok(self.identity_url.get_or_init(|| url).clone())
    }

    /// GET the unversioned Keystone root (a 300 "Multiple Choices" version
    /// list) and take v3's self link; fall back to `<root>/v3`.
    fn discover_identity(&self, root: &str) -> Result<String> {
        let root = root.trim_end_matches('/');
        let resp = self.send("identity", Method::Get, &format!("{root}/"), &[], None)?;
        let fallback = format!("{root}/v3");
        if !(200..400).contains(&resp.status) {
            return Ok(fallback);
        }
        let doc: Value = match serde_json::from_str(&resp.body) {
            Ok(v) => v,
            Err(_) => return Ok(fallback),
        };
        Ok(v3_from_discovery(&doc).unwrap_or(fallback))
    }

    fn request_token(&self) -> Result<Auth> {
        let base = self.identity_v3()?;
        let url = format!("{base}/auth/tokens");
        let body = token_request_body(&self.config);
        bump(&self.counters.token_requests);
        let resp = self.send(
            "identity",
            Method::Post,
            &url,
            &[],
            Some(serde_json::to_vec(&body).expect("JSON")),
        )?;
        drop(body);
        if resp.status == 401 {
            return Err(Error::Auth {
                url,
                message: error_message(&resp.body, 401),
            });
        }
        if !(200..300).contains(&resp.status) {
            return Err(Error::Api {
                service: "identity".into(),
                method: "POST".into(),
                path: url,
                status: resp.status,
                message: error_message(&resp.body, resp.status),
            });
        }
        let token = resp
            .header("x-subject-token")
            .filter(|t| !t.is_empty())
            .map(Secret::new)
            .ok_or_else(|| Error::BadResponse {
                service: "identity".into(),
                message: format!("POST {url}: no X-Subject-Token header"),
            })?;
        #[derive(Deserialize)]
        struct TokenDoc {
            token: TokenBody,
        }
        #[derive(Deserialize)]
        struct TokenBody {
            #[serde(default)]
            expires_at: Option<String>,
            #[serde(default)]
            catalog: Vec<CatalogEntry>,
        }
        let doc: TokenDoc = resp.json()?;
        Ok(Auth {
            token,
            expires_at: doc.token.expires_at.as_deref().and_then(parse_rfc3339),
            catalog: doc.token.catalog,
        })
    }
}

/// `.../v3` when the configured URL already names the version (no
/// discovery round trip); `/v2.0` is mapped to `/v3` because Keystone v2
/// is gone and old NovaEvacuate configurations still carry it.
fn v3_from_auth_url(auth_url: &str) -> Option<String> {
    let u = auth_url.trim_end_matches('/');
    if u.ends_with("/v3") {
        return Some(u.to_string());
    }
    u.strip_suffix("/v2.0").map(|root| format!("{root}/v3"))
}

fn v3_from_discovery(doc: &Value) -> Option<String> {
    let versions: Vec<&Value> = match (doc.get("versions"), doc.get("version")) {
        (Some(Value::Object(o)), _) => o.get("values")?.as_array()?.iter().collect(),
        (Some(Value::Array(a)), _) => a.iter().collect(),
        (None, Some(v)) => vec![v],
        _ => return None,
    };
    versions
        .into_iter()
        .filter(|v| {
            v.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| id.starts_with("v3"))
        })
        .filter(|v| {
            v.get("status").and_then(Value::as_str).map_or(true, |s| {
                matches!(
                    s.to_ascii_lowercase().as_str(),
                    "stable" | "current" | "supported"
                )
            })
        })
        .find_map(|v| {
            v.get("links")?
                .as_array()?
                .iter()
                .find(|l| l.get("rel").and_then(Value::as_str) == Some("self"))?
                .get("href")?
                .as_str()
                .map(|h| h.trim_end_matches('/').to_string())
        })
}

/// The `POST /v3/auth/tokens` body. Ids win over names; a name without a
/// domain gets Keystone's `default` domain, as the OpenStack clients do.
pub(crate) fn token_request_body(c: &CloudConfig) -> Value {
    let domain = |name: &Option<String>, id: &Option<String>| -> Value {
        if let Some(id) = id {
            json!({ "id": id })
        } else if let Some(name) = name {
            json!({ "name": name })
        } else if let Some(id) = &c.default_domain_id {
            json!({ "id": id })
        } else if let Some(name) = &c.default_domain_name {
            json!({ "name": name })
        } else {
            json!({ "id": DEFAULT_DOMAIN_ID })
        }
    };
    let user = || -> Value {
        match (&c.user_id, &c.username) {
            (Some(id), _) => json!({ "id": id }),
            (None, name) => json!({
                "name": name.clone().unwrap_or_default(),
                "domain": domain(&c.user_domain_name, &c.user_domain_id),
            }),
        }
    };
    match c.effective_auth_type() {
        AuthType::ApplicationCredential => {
            let secret = c
                .application_credential_secret
                .as_ref()
                .map(Secret::expose)
                .unwrap_or_default();
            let cred = match (&c.application_credential_id, &c.application_credential_name) {
                (Some(id), _) => json!({ "id": id, "secret": secret }),
                (None, name) => json!({ "name": name, "secret": secret, "user": user() }),
            };
            // An application credential carries its own project scope;
            // Keystone rejects an explicit scope.
            json!({ "auth": { "identity": {
                "methods": ["application_credential"],
                "application_credential": cred,
            }}})
        }
        AuthType::Password => {
            let mut u = user();
            u["password"] = json!(c.password.as_ref().map(Secret::expose).unwrap_or_default());
            let project = match (&c.project_id, &c.project_name) {
                (Some(id), _) => Some(json!({ "id": id })),
                (None, Some(name)) => Some(json!({
                    "name": name,
                    "domain": domain(&c.project_domain_name, &c.project_domain_id),
                })),
                (None, None) => None,
            };
            let mut body = json!({ "auth": { "identity": {
                "methods": ["password"],
                "password": { "user": u },
            }}});
            if let Some(p) = project {
                body["auth"]["scope"] = json!({ "project": p });
            }
            body
        }
    }
}

/// Catalog lookup: type, interface, then region (`region_id` or the
/// legacy `region`). Several matches in different regions without a
/// configured region: the first, like the clients.
pub fn find_endpoint(
    catalog: &[CatalogEntry],
    service_type: &str,
    interface: Interface,
    region: Option<&str>,
) -> Result<String> {
    let found = catalog
        .iter()
        .filter(|s| s.service_type == service_type)
        .flat_map(|s| s.endpoints.iter())
        .filter(|e| {
            e.interface
                .trim_end_matches("URL")
                .eq_ignore_ascii_case(interface.as_str())
        })
        .find(|e| region.map_or(true, |r| e.region_id == r || e.region == r));
    if let Some(e) = found {
        return Ok(e.url.trim_end_matches('/').to_string());
    }
    let have: Vec<String> = catalog
        .iter()
        .map(|s| {
            let eps: Vec<String> = s
                .endpoints
                .iter()
                .map(|e| {
                    let r = if e.region_id.is_empty() {
                        &e.region
                    } else {
                        &e.region_id
                    };
                    format!("{} {}", e.interface, if r.is_empty() { "-" } else { r })
                })
                .collect();
            format!("{} [{}]", s.service_type, eps.join(", "))
        })
        .collect();
    Err(Error::Config(format!(
        "no {service_type} endpoint with interface {interface}{} in the service catalog; it has: {}",
        region.map(|r| format!(" in region {r}")).unwrap_or_default(),
        if have.is_empty() { "nothing (unscoped token?)".to_string() } else { have.join("; ") }
    )))
}

fn check_status(req: &Request, resp: Response) -> Result<Response> {
    if (200..300).contains(&resp.status) {
        return Ok(resp);
    }
    let path = resp
        .context
        .split_once(' ')
        .map(|(_, p)| p.to_string())
        .unwrap_or_default();
    Err(Error::Api {
        service: req.service.clone(),
        method: req.method.to_string(),
        path,
        status: resp.status,
        message: error_message(&resp.body, resp.status),
    })
}

/// The service's own explanation of an error status:
/// Nova `{"badRequest": {"code": 400, "message": "..."}}` (the first key's
/// `message`), Keystone `{"error": {"message": ...}}`, `{"message": ...}`,
/// API-SIG `{"errors": [{"detail"|"title": ...}]}`, `{"description": ...}`;
/// otherwise the body as short text with HTML tags removed. Always
/// redacted, never empty.
pub fn error_message(body: &str, status: u16) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        let obj = v.as_object()?;
        let text = |x: Option<&Value>| x.and_then(Value::as_str).map(str::to_string);
        if let Some(m) = text(obj.get("message")) {
            return Some(m);
        }
        if let Some(e) = obj
            .get("errors")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            if let Some(m) = text(e.get("detail")).or_else(|| text(e.get("title"))) {
                return Some(m);
            }
        }
        if let Some(m) = text(obj.get("description")).or_else(|| text(obj.get("faultstring"))) {
            return Some(m);
        }
        obj.values().find_map(|inner| text(inner.get("message")))
    });
    let msg = match from_json {
        Some(m) => m,
        None => {
            // HTML or plain text from a proxy or WSGI server.
            let mut out = String::new();
            let mut in_tag = false;
            for ch in body.chars() {
                match ch {
                    '<' => in_tag = true,
                    '>' if in_tag => {
                        in_tag = false;
                        out.push(' ');
                    }
                    c if !in_tag => out.push(c),
                    _ => {}
                }
            }
            let words: Vec<&str> = out.split_whitespace().collect();
            let mut s = words.join(" ");
            if s.len() > 200 {
                let mut cut = 200;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
                s.push_str("...");
            }
            s
        }
    };
    let msg = redact(msg.trim());
    if msg.is_empty() {
        ureq::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("no message")
            .to_string()
    } else {
        msg
    }
}

fn strip_query(url: &str) -> &str {
    url.split_once('?').map_or(url, |(p, _)| p)
}

fn map_transport_error(e: ureq::Error, service: &str, method: Method, url: &str) -> Error {
    let url = strip_query(url).to_string();
    let unreachable = |reason: String| Error::Unreachable {
        service: service.to_string(),
        url: url.clone(),
        reason,
    };
    match e {
        ureq::Error::Timeout(t) => Error::Timeout(format!("{service} {method} {url}: {t}")),
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                Error::Timeout(format!("{service} {method} {url}: {io}"))
            }
            _ => unreachable(io.to_string()),
        },
        ureq::Error::HostNotFound => unreachable("host not found".into()),
        ureq::Error::ConnectionFailed => unreachable("connection failed".into()),
        ureq::Error::BadUri(u) => Error::Config(format!("{service}: invalid URL {u}")),
        ureq::Error::Tls(m) => unreachable(format!("TLS: {m}")),
        ureq::Error::Rustls(r) => unreachable(format!("TLS: {r}")),
        ureq::Error::BodyExceedsLimit(n) => Error::BadResponse {
            service: service.to_string(),
            message: format!("{method} {url}: body larger than {n} bytes"),
        },
        ureq::Error::Protocol(p) => Error::BadResponse {
            service: service.to_string(),
            message: format!("{method} {url}: HTTP protocol error: {p}"),
        },
        other => unreachable(other.to_string()),
    }
}

/// Percent-encode one path segment (server ids and host names come from
/// outside; a `/` or `?` in them must not change the request).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn build_url(base: &str, path: &str, query: &[(String, String)]) -> String {
    let mut url = format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    for (i, (k, v)) in query.iter().enumerate() {
        url.push(if i == 0 && !url.contains('?') {
            '?'
        } else {
            '&'
        });
        url.push_str(&encode_segment(k));
        url.push('=');
        url.push_str(&encode_segment(v));
    }
    url
}

/// Trust: `cacert` exactly when given; else the system bundle
/// (`SSL_CERT_FILE`, Debian's or RHEL's file), so a private CA installed
/// the distribution's way works; else the compiled-in Mozilla roots.
fn tls_config(c: &CloudConfig, env: impl Fn(&str) -> Option<String>) -> Result<TlsConfig> {
    let builder = TlsConfig::builder();
    if c.insecure == Some(true) {
        return Ok(builder.disable_verification(true).build());
    }
    if let Some(path) = &c.cacert {
        let certs = read_pem_certs(path)?;
        if certs.is_empty() {
            return Err(Error::config(format!(
                "cacert {}: no PEM certificates found",
                path.display()
            )));
        }
        return Ok(builder
            .root_certs(RootCerts::new_with_certs(&certs))
            .build());
    }
    let system: Vec<PathBuf> = env("SSL_CERT_FILE")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .chain(SYSTEM_CA_BUNDLES.iter().map(PathBuf::from))
        .collect();
    for p in system.iter().filter(|p| p.is_file()) {
        if let Ok(certs) = read_pem_certs(p) {
            if !certs.is_empty() {
                return Ok(builder
                    .root_certs(RootCerts::new_with_certs(&certs))
                    .build());
            }
        }
    }
    Ok(builder.root_certs(RootCerts::WebPki).build())
}

fn read_pem_certs(path: &Path) -> Result<Vec<Certificate<'static>>> {
    let data = std::fs::read(path)
        .map_err(|e| Error::config(format!("cacert {}: {e}", path.display())))?;
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(&data) {
        match item {
            Ok(PemItem::Certificate(c)) => out.push(c),
            Ok(_) => {}
            Err(e) => return Err(Error::config(format!("cacert {}: {e}", path.display()))),
        }
    }
    Ok(out)
}

/// On-disk token cache (see [`Session::with_token_cache`]).
struct TokenCache {
    dir: PathBuf,
    file: PathBuf,
    key: String,
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    key: String,
    token: String,
    expires_at: i64,
    catalog: Vec<CatalogEntry>,
}

/// FNV-1a: a stable file name for a credential identity (std's hasher is
/// not guaranteed stable across Rust releases). The key itself is stored
/// in the file and compared, so a collision only costs a cache miss.
fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

impl TokenCache {
    fn new(dir: PathBuf, config: &CloudConfig) -> TokenCache {
        // A fingerprint of the secret belongs to the key: after a password
        // change (right or wrong) the cached token of the old one must not
        // make the agent look healthy. The fingerprint is not the secret,
        // and the file is root-only and holds a token anyway.
        let secret = config
            .password
            .as_ref()
            .or(config.application_credential_secret.as_ref())
            .map(|s| {
                format!(
                    "{:016x}",
                    fnv1a(&format!("instance-ha token cache/{}", s.expose()))
                )
            })
            .unwrap_or_default();
        let key = format!("{}|secret:{secret}", config.identity_key());
        let file = dir.join(format!("token-{:016x}.json", fnv1a(&key)));
        TokenCache { dir, file, key }
    }

    /// The directory exists (created 0700 if not), is ours and private.
    fn dir_ok(&self) -> bool {
        if !self.dir.exists() {
            let _ = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir);
        }
        match std::fs::symlink_metadata(&self.dir) {
            Ok(m) => {
                m.is_dir()
                    && m.uid() == nix::unistd::geteuid().as_raw()
                    && m.permissions().mode() & 0o077 == 0
            }
            Err(_) => false,
        }
    }

    fn load(&self) -> Option<Auth> {
        if !self.dir_ok() {
            return None;
        }
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&self.file)
            .ok()?;
        let m = f.metadata().ok()?;
        if m.uid() != nix::unistd::geteuid().as_raw()
            || m.permissions().mode() & 0o077 != 0
            || m.len() > MAX_BODY
        {
            return None;
        }
        let mut text = String::new();
        f.read_to_string(&mut text).ok()?;
        let c: CacheFile = serde_json::from_str(&text).ok()?;
        if c.version != 1 || c.key != self.key || c.token.is_empty() {
            return None;
        }
        let a = Auth {
            token: Secret::new(c.token),
            expires_at: Some(c.expires_at),
            catalog: c.catalog,
        };
        a.fresh().then_some(a)
    }

    /// Write atomically (temporary file + rename), mode 0600 from the
    /// start. Returns whether the file was written. No fsync: after a
    /// crash a torn file fails to parse and is ignored.
    fn store(&self, a: &Auth) -> bool {
        let Some(expires_at) = a.expires_at else {
            return false;
        };
        if !self.dir_ok() {
            return false;
        }
        let doc = CacheFile {
            version: 1,
            key: self.key.clone(),
            token: a.token.expose().to_string(),
            expires_at,
            catalog: a.catalog.clone(),
        };
        let Ok(text) = serde_json::to_vec(&doc) else {
            return false;
        };
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let tmp = self.dir.join(format!(
            ".{}.{}.{}.tmp",
            self.file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("token"),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&text));
        if written.is_err() || std::fs::rename(&tmp, &self.file).is_err() {
            let _ = std::fs::remove_file(&tmp);
            return false;
        }
        true
    }

    fn remove(&self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(interface: &str, region: &str, url: &str) -> Endpoint {
        Endpoint {
            interface: interface.into(),
            region: region.into(),
            region_id: region.into(),
            url: url.into(),
        }
    }

    fn catalog() -> Vec<CatalogEntry> {
        vec![
            CatalogEntry {
                service_type: "compute".into(),
                name: "nova".into(),
                endpoints: vec![
                    ep("public", "R1", "https://pub1/v2.1/"),
                    ep("internal", "R1", "http://int1/v2.1"),
                    ep("internal", "R2", "http://int2/v2.1"),
                ],
            },
            CatalogEntry {
                service_type: "image".into(),
                name: "glance".into(),
                endpoints: vec![ep("public", "R1", "http://g")],
            },
        ]
    }

    #[test]
    fn endpoint_by_interface_and_region() {
        let c = catalog();
        assert_eq!(
            find_endpoint(&c, "compute", Interface::Public, None).unwrap(),
            "https://pub1/v2.1"
        );
        assert_eq!(
            find_endpoint(&c, "compute", Interface::Internal, Some("R2")).unwrap(),
            "http://int2/v2.1"
        );
        assert_eq!(
            find_endpoint(&c, "compute", Interface::Internal, None).unwrap(),
            "http://int1/v2.1"
        );
        let e = find_endpoint(&c, "compute", Interface::Admin, Some("R1")).unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, Error::Config(_)));
        assert!(
            m.contains("no compute endpoint with interface admin in region R1"),
            "{m}"
        );
        assert!(
            m.contains("compute [public R1, internal R1, internal R2]"),
            "{m}"
        );
        assert!(find_endpoint(&c, "volumev3", Interface::Public, None).is_err());
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_message(
                r#"{"badRequest": {"code": 400, "message": "Compute service of c1 is still in use."}}"#,
                400
            ),
            "Compute service of c1 is still in use."
        );
        assert_eq!(
            error_message(
                r#"{"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}"#,
                401
            ),
            "The request you have made requires authentication."
        );
        assert_eq!(
            error_message(
                r#"{"errors": [{"status": 409, "title": "Conflict", "detail": "busy"}]}"#,
                409
            ),
            "busy"
        );
        assert_eq!(error_message(r#"{"message": "flat"}"#, 400), "flat");
        assert_eq!(
            error_message("<html><body><h1>503 Service Unavailable</h1>\nNo server is available.</body></html>", 503),
            "503 Service Unavailable No server is available."
        );
        assert_eq!(error_message("", 404), "Not Found");
        let long = "x ".repeat(500);
        assert!(error_message(&long, 500).len() < 260);
        let m = error_message(
            r#"{"badRequest": {"message": "bad password: hunter2"}}"#,
            400,
        );
        assert!(!m.contains("hunter2"), "{m}");
    }

    #[test]
    fn identity_urls() {
        assert_eq!(
            v3_from_auth_url("http://k:5000/v3/").as_deref(),
            Some("http://k:5000/v3")
        );
        assert_eq!(
            v3_from_auth_url("http://k:5000/v2.0").as_deref(),
            Some("http://k:5000/v3")
        );
        assert_eq!(v3_from_auth_url("http://k:5000/identity"), None);
        let doc = json!({"versions": {"values": [
            {"id": "v2.0", "status": "deprecated", "links": [{"rel": "self", "href": "http://k/v2.0/"}]},
            {"id": "v3.14", "status": "stable", "links": [{"rel": "self", "href": "http://k/identity/v3/"}]}
        ]}});
        assert_eq!(
            v3_from_discovery(&doc).as_deref(),
            Some("http://k/identity/v3")
        );
        assert_eq!(
            v3_from_discovery(&json!({"versions": {"values": []}})),
            None
        );
    }

    #[test]
    fn token_bodies() {
        let mut c = CloudConfig {
            auth_url: Some("http://k/v3".into()),
            username: Some("admin".into()),
            password: Some(Secret::new("pw")),
            project_name: Some("admin".into()),
            ..Default::default()
        };
        let b = token_request_body(&c);
        assert_eq!(b["auth"]["identity"]["methods"], json!(["password"]));
        assert_eq!(
            b["auth"]["identity"]["password"]["user"],
            json!({"name": "admin", "domain": {"id": "default"}, "password": "pw"})
        );
        assert_eq!(
            b["auth"]["scope"]["project"],
            json!({"name": "admin", "domain": {"id": "default"}})
        );
        c.default_domain_name = Some("Corp".into());
        c.project_domain_id = Some("d1".into());
        let b = token_request_body(&c);
        assert_eq!(
            b["auth"]["identity"]["password"]["user"]["domain"],
            json!({"name": "Corp"})
        );
        assert_eq!(b["auth"]["scope"]["project"]["domain"], json!({"id": "d1"}));
        c.user_id = Some("u1".into());
        c.project_id = Some("p1".into());
        let b = token_request_body(&c);
        assert_eq!(
            b["auth"]["identity"]["password"]["user"],
            json!({"id": "u1", "password": "pw"})
        );
        assert_eq!(b["auth"]["scope"], json!({"project": {"id": "p1"}}));

        let a = CloudConfig {
            application_credential_name: Some("ha".into()),
            application_credential_secret: Some(Secret::new("s")),
            username: Some("svc".into()),
            user_domain_name: Some("Service".into()),
            ..Default::default()
        };
        let b = token_request_body(&a);
        assert_eq!(
            b["auth"]["identity"]["methods"],
            json!(["application_credential"])
        );
        assert_eq!(
            b["auth"]["identity"]["application_credential"],
            json!({"name": "ha", "secret": "s", "user": {"name": "svc", "domain": {"name": "Service"}}})
        );
        assert!(b["auth"].get("scope").is_none());
    }

    #[test]
    fn response_debug_hides_tokens() {
        let r = Response {
            status: 201,
            headers: vec![
                ("x-subject-token".into(), "gAAAAAsecret".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: "{}".into(),
            service: "identity".into(),
            context: "POST /v3/auth/tokens".into(),
        };
        let d = format!("{r:?}");
        assert!(
            !d.contains("gAAAAAsecret") && d.contains("application/json"),
            "{d}"
        );
        assert_eq!(r.header("X-Subject-Token"), Some("gAAAAAsecret"));
    }

    #[test]
    fn urls_are_encoded() {
        assert_eq!(encode_segment("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(
            build_url(
                "http://n/v2.1/",
                "/servers/detail",
                &[
                    ("host".into(), "c 1&x".into()),
                    ("all_tenants".into(), "1".into())
                ]
            ),
            "http://n/v2.1/servers/detail?host=c%201%26x&all_tenants=1"
        );
        assert_eq!(build_url("http://n/v2.1", "", &[]), "http://n/v2.1/");
    }

    #[test]
    fn session_is_send_sync_and_debug_has_no_secret() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Session>();
        let s = Session::new(CloudConfig {
            auth_url: Some("http://127.0.0.1:9/v3".into()),
            username: Some("admin".into()),
            password: Some(Secret::new("hunter2")),
            project_name: Some("admin".into()),
            ..Default::default()
        })
        .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn token_cache_roundtrip_and_privacy() {
        let dir = std::env::temp_dir()
            .join(format!("iha-tc-{}", std::process::id()))
            .join("cache");
        let cfg = CloudConfig {
            auth_url: Some("http://k/v3".into()),
            username: Some("u".into()),
            ..Default::default()
        };
        let tc = TokenCache::new(dir.clone(), &cfg);
        let a = Auth {
            token: Secret::new("tok"),
            expires_at: Some(now_unix() + 3600),
            catalog: catalog(),
        };
        assert!(tc.store(&a));
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(
            std::fs::metadata(&tc.file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let b = tc.load().unwrap();
        assert_eq!(b.token.expose(), "tok");
        assert_eq!(b.catalog, catalog());
        // Another identity does not see it.
        let other = TokenCache::new(
            dir.clone(),
            &CloudConfig {
                username: Some("v".into()),
                ..cfg.clone()
            },
        );
        assert!(other.load().is_none());
        // Near expiry: ignored.
        assert!(tc.store(&Auth {
            token: Secret::new("old"),
            expires_at: Some(now_unix() + 30),
            catalog: vec![]
        }));
        assert!(tc.load().is_none());
        // A group-readable file is not trusted.
        assert!(tc.store(&a));
        std::fs::set_permissions(&tc.file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(tc.load().is_none());
        // Nor a directory others can enter.
        std::fs::set_permissions(&tc.file, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(tc.load().is_none());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        tc.remove();
        assert!(tc.load().is_none());
        std::fs::remove_dir_all(dir.parent().unwrap()).ok();
    }
}
