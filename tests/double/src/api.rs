//! HTTP surface: Keystone v3, Nova v2.1, Glance v2.

use crate::http::{HttpRequest, HttpResponse};
use crate::state::{Mv, State};
use crate::util::{
    nova_bool, parse_query, pct_encode, py_repr, stable_hex, ts_keystone, ts_micro, ts_z,
    NOVA_BOOL_ENUM,
};
use crate::{RequestRecord, Shared};
use serde_json::{json, Map, Value};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, v: Value) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(&v).unwrap(),
        }
    }
    fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: vec![],
        }
    }
    fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
}

/// Nova's wsgi Fault names.
fn fault_name(status: u16) -> &'static str {
    match status {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 | 429 => "overLimit",
        415 => "badMediaType",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}

fn nova_err(status: u16, msg: &str) -> Reply {
    let mut m = Map::new();
    m.insert(
        fault_name(status).into(),
        json!({"code": status, "message": msg}),
    );
    Reply::json(status, Value::Object(m))
}

fn keystone_err(status: u16, title: &str, msg: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": {"code": status, "message": msg, "title": title}}),
    )
}

const UNAUTH_MSG: &str = "The request you have made requires authentication.";

fn unauthorized(base: &str) -> Reply {
    keystone_err(401, "Unauthorized", UNAUTH_MSG).header(
        "WWW-Authenticate",
        &format!("Keystone uri=\"{base}/identity\""),
    )
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        300 => "Multiple Choices",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

fn sleep_unless_shutdown(sh: &Shared, d: Duration) {
    let end = Instant::now() + d;
    loop {
        let now = Instant::now();
        if now >= end || sh.shutdown.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(100)));
    }
}

struct Ctx<'a> {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    body: String,
    token: Option<String>,
    mv_new: Option<String>,
    mv_old: Option<String>,
    sh: &'a Shared,
}

impl Ctx<'_> {
    fn q(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }
}

pub fn handle(sh: &Shared, rq: HttpRequest) -> HttpResponse {
    let started = Instant::now();
    let body = String::from_utf8_lossy(&rq.body).into_owned();
    let url = rq.url.clone();
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (url.clone(), String::new()),
    };
    let hdr = |name: &str| -> Option<String> { rq.header(name).map(str::to_string) };
    let mv_new = hdr("OpenStack-API-Version").and_then(|v| {
        v.split(',')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("compute ").map(|s| s.trim().to_string()))
    });
    let mv_old = hdr("X-OpenStack-Nova-API-Version");
    let ctx = Ctx {
        method: rq.method.to_ascii_uppercase(),
        path,
        query: parse_query(&query),
        body,
        token: hdr("X-Auth-Token"),
        mv_new: mv_new.clone(),
        mv_old: mv_old.clone(),
        sh,
    };

    // Injected faults and delays, then the configured latency.
    let mut injected: Option<u16> = None;
    let mut delay = Duration::ZERO;
    {
        let mut st = sh.lock();
        st.log_request(RequestRecord {
            method: ctx.method.clone(),
            path: ctx.path.clone(),
            query,
            microversion: mv_new.or(mv_old),
        });
        let m = &ctx.method;
        if let Some(inj) = st.injections.iter_mut().find(|i| {
            i.remaining > 0
                && (i.method == "*" || &i.method == m)
                && ctx.path.starts_with(&i.prefix)
        }) {
            inj.remaining -= 1;
            if inj.status == 0 {
                delay = inj.delay;
            } else {
                injected = Some(inj.status);
            }
        }
        st.injections.retain(|i| i.remaining > 0);
    }
    let target = started + sh.cfg.latency;
    let now = Instant::now();
    if target > now {
        sleep_unless_shutdown(sh, target - now);
    }
    if !delay.is_zero() {
        sleep_unless_shutdown(sh, delay);
    }
    let reply = match injected {
        Some(status) => {
            if ctx.path.starts_with("/identity") {
                keystone_err(
                    status,
                    reason(status),
                    "An unexpected error prevented the server from fulfilling your request.",
                )
            } else {
                nova_err(status, "Injected fault by nova-double.")
            }
        }
        None => route(&ctx),
    };
    let rid = format!("req-{}", sh.lock().rng.uuid());
    let mut headers = vec![("x-openstack-request-id".to_string(), rid)];
    headers.extend(reply.headers);
    sh.record_timing(&ctx.method, &ctx.path, started);
    HttpResponse {
        status: reply.status,
        reason: reason(reply.status),
        headers,
        body: reply.body,
    }
}

fn route(c: &Ctx) -> Reply {
    let p = c.path.trim_end_matches('/');
    if p == "/identity" || p.starts_with("/identity/") {
        return keystone(c, p);
    }
    if p == "/compute" || p.starts_with("/compute/") {
        return compute(c, p);
    }
    if p == "/image" || p.starts_with("/image/") {
        return glance(c, p);
    }
    Reply {
        status: 404,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: b"Not Found".to_vec(),
    }
}

// ---------------------------------------------------------------- Keystone

fn identity_version(base: &str) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{base}/identity/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]
    })
}

fn keystone(c: &Ctx, p: &str) -> Reply {
    let base = &c.sh.base;
    match (c.method.as_str(), p) {
        ("GET", "/identity") => Reply::json(
            300,
            json!({"versions": {"values": [identity_version(base)]}}),
        ),
        ("GET", "/identity/v3") => Reply::json(200, json!({"version": identity_version(base)})),
        ("POST", "/identity/v3/auth/tokens") => issue_token(c),
        ("GET", "/identity/v3/auth/tokens") => {
            let st = c.sh.lock();
            let ok = |t: &Option<String>| {
                t.as_ref()
                    .and_then(|t| st.tokens.get(t))
                    .map(|k| k.expires > Instant::now())
                    .unwrap_or(false)
            };
            if !ok(&c.token) {
                return unauthorized(base);
            }
            drop(st);
            // Validation: the subject token must be valid too.
            let subj = c.token.clone();
            let st = c.sh.lock();
            match subj.as_ref().and_then(|t| st.tokens.get(t)) {
                Some(t) => {
                    let body = token_body(c, &st, "password", t.expires_wall, t.scoped);
                    Reply::json(200, body).header("X-Subject-Token", subj.as_deref().unwrap())
                }
                None => keystone_err(404, "Not Found", "Could not find token."),
            }
        }
        _ => keystone_err(404, "Not Found", "The resource could not be found."),
    }
}

fn catalog(base: &str) -> Value {
    let svc = |typ: &str, name: &str, url: String, seed: &str| {
        let eps: Vec<Value> = ["public", "internal", "admin"]
            .iter()
            .map(|i| {
                json!({"id": stable_hex(&format!("{seed}{i}")), "interface": i, "region_id": "RegionOne",
                       "url": url, "region": "RegionOne"})
            })
            .collect();
        json!({"endpoints": eps, "id": stable_hex(seed), "type": typ, "name": name})
    };
    json!([
        svc(
            "compute",
            "nova",
            format!("{base}/compute/v2.1"),
            "svc-compute"
        ),
        svc("image", "glance", format!("{base}/image"), "svc-image"),
        svc(
            "identity",
            "keystone",
            format!("{base}/identity"),
            "svc-identity"
        ),
    ])
}

fn token_body(c: &Ctx, st: &State, method: &str, expires: SystemTime, scoped: bool) -> Value {
    let cfg = &c.sh.cfg;
    let domain = json!({"id": "default", "name": "Default"});
    let mut tok = json!({
        "methods": [method],
        "user": {"domain": domain, "id": st.admin_user_id, "name": cfg.username, "password_expires_at": null},
        "audit_ids": [stable_hex(&ts_keystone(expires))[..22].to_string()],
        "expires_at": ts_keystone(expires),
        "issued_at": ts_keystone(SystemTime::now()),
    });
    if scoped {
        let t = tok.as_object_mut().unwrap();
        t.insert(
            "project".into(),
            json!({"domain": domain, "id": st.admin_project_id, "name": cfg.project}),
        );
        t.insert("is_domain".into(), json!(false));
        t.insert(
            "roles".into(),
            json!([{"id": stable_hex("role:admin"), "name": "admin"},
                   {"id": stable_hex("role:member"), "name": "member"},
                   {"id": stable_hex("role:reader"), "name": "reader"}]),
        );
        t.insert("catalog".into(), catalog(&c.sh.base));
    }
    json!({"token": tok})
}

fn domain_ok(d: Option<&Value>) -> bool {
    match d {
        None => false,
        Some(d) => {
            d.get("id")
                .and_then(Value::as_str)
                .map(|i| i == "default")
                .unwrap_or(false)
                || d.get("name")
                    .and_then(Value::as_str)
                    .map(|n| n == "Default")
                    .unwrap_or(false)
        }
    }
}

fn issue_token(c: &Ctx) -> Reply {
    let base = &c.sh.base;
    let cfg = &c.sh.cfg;
    let body: Value = match serde_json::from_str(&c.body) {
        Ok(v) => v,
        Err(_) => return keystone_err(400, "Bad Request", "The request body must be valid JSON."),
    };
    let Some(identity) = body.pointer("/auth/identity") else {
        return keystone_err(400, "Bad Request", "'identity' is a required property");
    };
    let methods: Vec<&str> = identity
        .get("methods")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let (user_id, project_id) = {
        let st = c.sh.lock();
        (st.admin_user_id.clone(), st.admin_project_id.clone())
    };
    let user_matches = |u: &Value| -> bool {
        if let Some(id) = u.get("id").and_then(Value::as_str) {
            return id == user_id;
        }
        u.get("name").and_then(Value::as_str) == Some(cfg.username.as_str())
            && domain_ok(u.get("domain"))
    };
    let (method, scoped) = if methods.contains(&"application_credential") {
        let Some(ac) = identity.get("application_credential") else {
            return keystone_err(
                400,
                "Bad Request",
                "'application_credential' is a required property",
            );
        };
        let secret = ac.get("secret").and_then(Value::as_str).unwrap_or("");
        let found = cfg.app_creds.iter().any(|(id, name, sec)| {
            let who = match ac.get("id").and_then(Value::as_str) {
                Some(i) => i == id,
                None => {
                    ac.get("name").and_then(Value::as_str) == Some(name.as_str())
                        && ac.get("user").map(&user_matches).unwrap_or(false)
                }
            };
            who && secret == sec
        });
        if !found {
            return unauthorized(base);
        }
        ("application_credential", true)
    } else if methods.contains(&"password") {
        let Some(u) = identity.pointer("/password/user") else {
            return keystone_err(400, "Bad Request", "'user' is a required property");
        };
        if !user_matches(u)
            || u.get("password").and_then(Value::as_str) != Some(cfg.password.as_str())
        {
            return unauthorized(base);
        }
        let scoped = match body.pointer("/auth/scope") {
            None => false,
            Some(s) => match s.get("project") {
                Some(pj) => {
                    let ok = match pj.get("id").and_then(Value::as_str) {
                        Some(id) => id == project_id,
                        None => {
                            pj.get("name").and_then(Value::as_str) == Some(cfg.project.as_str())
                                && domain_ok(pj.get("domain"))
                        }
                    };
                    if !ok {
                        return unauthorized(base);
                    }
                    true
                }
                None => return unauthorized(base),
            },
        };
        ("password", scoped)
    } else {
        return unauthorized(base);
    };
    let mut st = c.sh.lock();
    let token = st.rng.token();
    let expires_wall = SystemTime::now() + cfg.token_ttl;
    st.tokens.insert(
        token.clone(),
        crate::state::Token {
            expires: Instant::now() + cfg.token_ttl,
            expires_wall,
            scoped,
        },
    );
    let body = token_body(c, &st, method, expires_wall, scoped);
    Reply::json(201, body).header("X-Subject-Token", &token)
}

/// 401 unless the token is valid; 403 when unscoped.
fn check_token(c: &Ctx) -> Option<Reply> {
    let st = c.sh.lock();
    match c.token.as_ref().and_then(|t| st.tokens.get(t)) {
        Some(t) if t.expires > Instant::now() => {
            if t.scoped {
                None
            } else {
                Some(nova_err(
                    403,
                    "Policy doesn't allow os_compute_api:servers:detail to be performed.",
                ))
            }
        }
        _ => Some(unauthorized(&c.sh.base)),
    }
}

// ---------------------------------------------------------------- Glance

fn glance(c: &Ctx, p: &str) -> Reply {
    let base = &c.sh.base;
    if c.method == "GET" && (p == "/image" || p == "/image/versions") {
        return Reply::json(
            if p == "/image" { 300 } else { 200 },
            json!({"versions": [{"id": "v2.17", "status": "CURRENT",
                    "links": [{"rel": "self", "href": format!("{base}/image/v2/")}]}]}),
        );
    }
    if let Some(r) = check_token(c) {
        return r;
    }
    // Image list with Glance's filters: `tag=` (repeatable) and any
    // custom property as `name=value`; `limit`/`marker` paging.
    if (p == "/image/v2/images" || p == "/image/v2/images/") && c.method == "GET" {
        let st = c.sh.lock();
        let tags: Vec<&str> = c
            .query
            .iter()
            .filter(|(k, _)| k == "tag")
            .map(|(_, v)| v.as_str())
            .collect();
        let props: Vec<(&str, &str)> = c
            .query
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "tag" | "limit" | "marker" | "sort_key" | "sort_dir" | "visibility"
                )
            })
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut imgs: Vec<&crate::state::Image> = st
            .images
            .values()
            .filter(|i| tags.iter().all(|t| i.tags.iter().any(|x| x == t)))
            .filter(|i| {
                props
                    .iter()
                    .all(|(k, v)| i.properties.get(*k).is_some_and(|x| x == v))
            })
            .collect();
        imgs.sort_by(|a, b| a.id.cmp(&b.id));
        if let Some(m) = c.q("marker") {
            imgs.retain(|i| i.id.as_str() > m);
        }
        let limit = c.q("limit").and_then(|l| l.parse().ok()).unwrap_or(25usize);
        let more = imgs.len() > limit;
        imgs.truncate(limit);
        let list: Vec<Value> = imgs
            .iter()
            .map(|i| {
                let mut m = Map::new();
                for (k, v) in &i.properties {
                    m.insert(k.clone(), json!(v));
                }
                m.insert("id".into(), json!(i.id));
                m.insert("name".into(), json!(i.name));
                m.insert("status".into(), json!("active"));
                m.insert("tags".into(), json!(i.tags));
                Value::Object(m)
            })
            .collect();
        let mut doc =
            json!({"images": list, "first": "/v2/images", "schema": "/v2/schemas/images"});
        if more {
            let last = imgs.last().map(|i| i.id.clone()).unwrap_or_default();
            doc["next"] = json!(format!("/v2/images?marker={last}&limit={limit}"));
        }
        return Reply::json(200, doc);
    }
    if let Some(id) = p.strip_prefix("/image/v2/images/") {
        if c.method == "GET" && !id.contains('/') {
            let st = c.sh.lock();
            let Some(img) = st.images.get(id) else {
                let html = format!(
                    "<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n  No image found with ID {id}<br /><br />\n\n\n\n </body>\n</html>"
                );
                return Reply {
                    status: 404,
                    headers: vec![("Content-Type".into(), "text/html; charset=UTF-8".into())],
                    body: html.into_bytes(),
                };
            };
            let mut m = Map::new();
            for (k, v) in &img.properties {
                m.insert(k.clone(), json!(v));
            }
            let t = ts_z(img.created);
            let fixed = json!({
                "id": img.id, "name": img.name, "status": "active", "visibility": "public",
                "protected": false, "os_hidden": false, "tags": img.tags,
                "container_format": "bare", "disk_format": "qcow2", "min_disk": 0, "min_ram": 0,
                "size": 21430272, "virtual_size": 117440512, "checksum": stable_hex(&img.id),
                "os_hash_algo": "sha512", "os_hash_value": format!("{}{}", stable_hex(&img.id), stable_hex(&img.name)),
                "owner": st.admin_project_id, "created_at": t, "updated_at": t,
                "self": format!("/v2/images/{}", img.id), "file": format!("/v2/images/{}/file", img.id),
                "schema": "/v2/schemas/image",
            });
            for (k, v) in fixed.as_object().unwrap() {
                m.insert(k.clone(), v.clone());
            }
            return Reply::json(200, Value::Object(m));
        }
    }
    Reply {
        status: 404,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: b"404 Not Found\n\nThe resource could not be found.\n\n   ".to_vec(),
    }
}

// ---------------------------------------------------------------- Nova

fn mv_str(v: Mv) -> String {
    format!("{}.{}", v.0, v.1)
}

fn nova_versions(c: &Ctx) -> Value {
    let base = &c.sh.base;
    json!({
        "id": "v2.1", "status": "CURRENT",
        "version": mv_str(c.sh.cfg.max_mv), "min_version": mv_str(c.sh.cfg.min_mv),
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": format!("{base}/compute/v2.1/")}],
    })
}

fn compute(c: &Ctx, p: &str) -> Reply {
    let base = &c.sh.base;
    if c.method == "GET" && p == "/compute" {
        return Reply::json(
            200,
            json!({"versions": [
                {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
                 "updated": "2011-01-21T11:33:21Z", "links": [{"rel": "self", "href": format!("{base}/compute/v2/")}]},
                nova_versions(c)
            ]}),
        );
    }
    if c.method == "GET" && p == "/compute/v2.1" {
        let mut v = nova_versions(c);
        let o = v.as_object_mut().unwrap();
        o.get_mut("links")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(json!({"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}));
        o.insert(
            "media-types".into(),
            json!([{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]),
        );
        return Reply::json(200, json!({"version": v}));
    }
    let Some(rest) = p.strip_prefix("/compute/v2.1/") else {
        return nova_err(404, "The resource could not be found.");
    };
    if let Some(r) = check_token(c) {
        return r;
    }
    // Microversion negotiation (new header wins).
    let (min, max) = (c.sh.cfg.min_mv, c.sh.cfg.max_mv);
    let requested = c.mv_new.clone().or(c.mv_old.clone());
    let mv = match requested.as_deref() {
        None => min,
        Some(v) if v.eq_ignore_ascii_case("latest") => max,
        Some(v) => {
            let parsed = v
                .split_once('.')
                .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
            match parsed {
                None => {
                    return nova_err(
                        400,
                        &format!("API Version String {v} is of invalid format. Must be of format MajorNum.MinorNum."),
                    )
                }
                Some(m) if m < min || m > max => {
                    return nova_err(
                        406,
                        &format!(
                            "Version {v} is not supported by the API. Minimum is {} and maximum is {}.",
                            mv_str(min),
                            mv_str(max)
                        ),
                    )
                }
                Some(m) => m,
            }
        }
    };
    let segs: Vec<&str> = rest.split('/').collect();
    let mut r = nova_route(c, &segs, mv);
    let v = mv_str(mv);
    r.headers
        .push(("OpenStack-API-Version".into(), format!("compute {v}")));
    r.headers.push(("X-OpenStack-Nova-API-Version".into(), v));
    r.headers.push((
        "Vary".into(),
        "OpenStack-API-Version, X-OpenStack-Nova-API-Version".into(),
    ));
    r
}

fn nova_route(c: &Ctx, segs: &[&str], mv: Mv) -> Reply {
    let m = c.method.as_str();
    match (m, segs) {
        ("GET", ["servers"]) => list_servers(c, mv, false),
        ("GET", ["servers", "detail"]) => list_servers(c, mv, true),
        ("GET", ["servers", id]) => {
            let st = c.sh.lock();
            match st.server(id) {
                Some(s) => Reply::json(200, json!({"server": server_json(c, &st, s, mv)})),
                None => nova_err(404, &format!("Instance {id} could not be found.")),
            }
        }
        ("POST", ["servers", id, "action"]) => server_action(c, id, mv),
        ("GET", ["os-services"]) => list_services(c, mv),
        ("PUT", ["os-services", id]) => update_service(c, id, mv),
        ("GET", ["os-migrations"]) => list_migrations(c, mv),
        ("GET", ["flavors"]) => list_flavors(c, mv, false),
        ("GET", ["flavors", "detail"]) => list_flavors(c, mv, true),
        ("GET", ["flavors", id]) => {
            let st = c.sh.lock();
            match st.flavors.iter().find(|f| f.id == *id) {
                Some(f) => Reply::json(200, json!({"flavor": flavor_json(c, f, mv, true)})),
                None => nova_err(404, &format!("Flavor {id} could not be found.")),
            }
        }
        ("GET", ["flavors", id, "os-extra_specs"]) => {
            let st = c.sh.lock();
            match st.flavors.iter().find(|f| f.id == *id) {
                Some(f) => Reply::json(200, json!({"extra_specs": f.extra_specs})),
                None => nova_err(404, &format!("Flavor {id} could not be found.")),
            }
        }
        ("GET", ["os-hypervisors", rest @ ..]) if rest.is_empty() || rest == ["detail"] => {
            hypervisors(c, mv, !rest.is_empty())
        }
        _ => nova_err(404, "The resource could not be found."),
    }
}

fn flavor_json(c: &Ctx, f: &crate::state::Flavor, mv: Mv, detail: bool) -> Value {
    let link = format!("{}/compute/v2.1/flavors/{}", c.sh.base, f.id);
    let mut v = json!({"id": f.id, "name": f.name,
        "links": [{"rel": "self", "href": link}, {"rel": "bookmark", "href": format!("{}/compute/flavors/{}", c.sh.base, f.id)}]});
    let o = v.as_object_mut().unwrap();
    if mv >= (2, 55) {
        o.insert("description".into(), Value::Null);
    }
    if detail {
        o.insert("ram".into(), json!(f.ram));
        o.insert("disk".into(), json!(f.disk));
        o.insert("vcpus".into(), json!(f.vcpus));
        o.insert(
            "swap".into(),
            if mv >= (2, 75) {
                json!(f.swap)
            } else if f.swap == 0 {
                json!("")
            } else {
                json!(f.swap)
            },
        );
        o.insert("OS-FLV-EXT-DATA:ephemeral".into(), json!(f.ephemeral));
        o.insert("OS-FLV-DISABLED:disabled".into(), json!(false));
        o.insert("os-flavor-access:is_public".into(), json!(f.is_public));
        if mv < (2, 75) {
            o.insert("rxtx_factor".into(), json!(1.0));
        }
        if mv >= (2, 61) {
            o.insert("extra_specs".into(), json!(f.extra_specs));
        }
    }
    v
}

fn list_flavors(c: &Ctx, mv: Mv, detail: bool) -> Reply {
    // Admin: is_public absent -> public only; "none" -> all; false -> private.
    let filter = match c.q("is_public").map(|s| s.to_ascii_lowercase()) {
        None => Some(true),
        Some(s) if s == "none" => None,
        Some(s) => match nova_bool(&json!(s)) {
            Some(b) => Some(b),
            None => return nova_err(400, &format!("Invalid is_public filter [{s}]")),
        },
    };
    let st = c.sh.lock();
    let list: Vec<Value> = st
        .flavors
        .iter()
        .filter(|f| filter.map(|p| f.is_public == p).unwrap_or(true))
        .map(|f| flavor_json(c, f, mv, detail))
        .collect();
    Reply::json(200, json!({"flavors": list}))
}

fn server_json(c: &Ctx, st: &State, s: &crate::state::Server, mv: Mv) -> Value {
    let base = &c.sh.base;
    let f = &st.flavors[s.flavor];
    let flavor = if mv >= (2, 47) {
        json!({"vcpus": f.vcpus, "ram": f.ram, "disk": f.disk, "ephemeral": f.ephemeral, "swap": f.swap,
               "original_name": f.name, "extra_specs": f.extra_specs})
    } else {
        json!({"id": f.id, "links": [{"rel": "bookmark", "href": format!("{base}/compute/flavors/{}", f.id)}]})
    };
    let image = match &s.image {
        Some(i) => {
            json!({"id": i, "links": [{"rel": "bookmark", "href": format!("{base}/compute/images/{i}")}]})
        }
        None => json!(""),
    };
    let host_id = s.host.as_ref().map(|h| {
        let x = stable_hex(&format!("{}{}", s.tenant_id, h));
        format!("{x}{}", &stable_hex(h)[..24])
    });
    let mut v = json!({
        "id": s.id, "name": s.name, "status": s.status(),
        "tenant_id": s.tenant_id, "user_id": s.user_id, "metadata": s.metadata,
        "hostId": host_id.unwrap_or_default(), "image": image, "flavor": flavor,
        "created": ts_z(s.created), "updated": ts_z(s.updated),
        "addresses": {}, "accessIPv4": "", "accessIPv6": "",
        "links": [{"rel": "self", "href": format!("{base}/compute/v2.1/servers/{}", s.id)},
                  {"rel": "bookmark", "href": format!("{base}/compute/servers/{}", s.id)}],
        "OS-DCF:diskConfig": "MANUAL", "progress": 0, "OS-EXT-AZ:availability_zone": "nova",
        "config_drive": "", "key_name": null,
        "OS-SRV-USG:launched_at": ts_micro(s.created), "OS-SRV-USG:terminated_at": null,
        "OS-EXT-SRV-ATTR:host": s.host, "OS-EXT-SRV-ATTR:instance_name": s.instance_name,
        "OS-EXT-SRV-ATTR:hypervisor_hostname": s.host,
        "OS-EXT-STS:task_state": s.task_state, "OS-EXT-STS:vm_state": s.vm_state,
        "OS-EXT-STS:power_state": s.power_state,
        "os-extended-volumes:volumes_attached": [], "security_groups": [{"name": "default"}],
    });
    let o = v.as_object_mut().unwrap();
    if mv >= (2, 3) {
        o.insert(
            "OS-EXT-SRV-ATTR:reservation_id".into(),
            json!(format!("r-{}", &s.id[..8])),
        );
        o.insert("OS-EXT-SRV-ATTR:launch_index".into(), json!(0));
        o.insert("OS-EXT-SRV-ATTR:hostname".into(), json!(s.name));
        o.insert("OS-EXT-SRV-ATTR:kernel_id".into(), json!(""));
        o.insert("OS-EXT-SRV-ATTR:ramdisk_id".into(), json!(""));
        o.insert("OS-EXT-SRV-ATTR:root_device_name".into(), json!("/dev/vda"));
        o.insert("OS-EXT-SRV-ATTR:user_data".into(), Value::Null);
    }
    if mv >= (2, 9) {
        o.insert("locked".into(), json!(false));
    }
    if mv >= (2, 16) {
        let hs = match s.host.as_deref().and_then(|h| st.compute(h)) {
            None => "",
            Some(svc) => {
                if !svc.is_up(Instant::now(), st.down_time) {
                    "DOWN"
                } else if svc.disabled {
                    "MAINTENANCE"
                } else {
                    "UP"
                }
            }
        };
        o.insert("host_status".into(), json!(hs));
    }
    if mv >= (2, 19) {
        o.insert("description".into(), Value::Null);
    }
    if mv >= (2, 26) {
        o.insert("tags".into(), json!([]));
    }
    if mv >= (2, 63) {
        o.insert("trusted_image_certificates".into(), Value::Null);
    }
    if mv >= (2, 73) {
        o.insert("locked_reason".into(), Value::Null);
    }
    if mv >= (2, 96) {
        o.insert("pinned_availability_zone".into(), Value::Null);
    }
    v
}

fn list_servers(c: &Ctx, mv: Mv, detail: bool) -> Reply {
    let all_tenants = match c.q("all_tenants") {
        None => false,
        Some("") => true,
        Some(v) => match nova_bool(&json!(v)) {
            Some(b) => b,
            None => return nova_err(400, &format!("Invalid all_tenants value: {v}")),
        },
    };
    let max = c.sh.cfg.max_limit;
    let limit = match c.q("limit") {
        None => max,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n >= 0 => (n as usize).min(max),
            _ => return nova_err(400, "limit param must be an integer"),
        },
    };
    let host = c.q("host");
    let st = c.sh.lock();
    let project = st.admin_project_id.clone();
    let status = c.q("status");
    // Nova's default sort: created_at desc, id desc (here: creation order
    // desc); a marker continues after that server in this order.
    let upper = match c.q("marker") {
        None => u64::MAX,
        Some(marker) => match st.server_index.get(marker) {
            Some(seq) => *seq,
            None => return nova_err(400, &format!("marker [{marker}] not found")),
        },
    };
    let page: Vec<&crate::state::Server> = st
        .servers
        .range(..upper)
        .rev()
        .map(|(_, s)| s)
        .filter(|s| all_tenants || s.tenant_id == project)
        .filter(|s| host.map(|h| s.host.as_deref() == Some(h)).unwrap_or(true))
        .filter(|s| {
            status
                .map(|x| s.status().eq_ignore_ascii_case(x))
                .unwrap_or(true)
        })
        .take(limit)
        .collect();
    servers_page(c, &st, page, limit, mv, detail)
}

fn servers_page(
    c: &Ctx,
    st: &State,
    page: Vec<&crate::state::Server>,
    limit: usize,
    mv: Mv,
    detail: bool,
) -> Reply {
    let items: Vec<Value> = page
        .iter()
        .map(|s| {
            if detail {
                server_json(c, st, s, mv)
            } else {
                json!({"id": s.id, "name": s.name,
                       "links": [{"rel": "self", "href": format!("{}/compute/v2.1/servers/{}", c.sh.base, s.id)},
                                 {"rel": "bookmark", "href": format!("{}/compute/servers/{}", c.sh.base, s.id)}]})
            }
        })
        .collect();
    let mut out = Map::new();
    out.insert("servers".into(), Value::Array(items));
    if limit > 0 && page.len() == limit {
        let last = &page[page.len() - 1].id;
        let mut q: Vec<String> = c
            .query
            .iter()
            .filter(|(k, _)| k != "marker" && k != "limit")
            .map(|(k, v)| format!("{}={}", pct_encode(k), pct_encode(v)))
            .collect();
        q.push(format!("limit={limit}"));
        q.push(format!("marker={last}"));
        let path = if detail { "servers/detail" } else { "servers" };
        out.insert(
            "servers_links".into(),
            json!([{"rel": "next", "href": format!("{}/compute/v2.1/{path}?{}", c.sh.base, q.join("&"))}]),
        );
    }
    Reply::json(200, Value::Object(out))
}

fn invalid_input(field: &str, value: &Value, msg: &str) -> Reply {
    nova_err(
        400,
        &format!(
            "Invalid input for field/attribute {field}. Value: {}. {msg}",
            py_repr(value)
        ),
    )
}

fn additional(obj: &Map<String, Value>, allowed: &[&str]) -> Option<String> {
    let extra: Vec<String> = obj
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| format!("'{k}'"))
        .collect();
    match extra.len() {
        0 => None,
        1 => Some(format!(
            "Additional properties are not allowed ({} was unexpected)",
            extra[0]
        )),
        _ => Some(format!(
            "Additional properties are not allowed ({} were unexpected)",
            extra.join(", ")
        )),
    }
}

fn server_action(c: &Ctx, id: &str, mv: Mv) -> Reply {
    let body: Value = match serde_json::from_str(&c.body) {
        Ok(v) => v,
        Err(_) => return nova_err(400, "Malformed request body"),
    };
    let Some(obj) = body.as_object() else {
        return nova_err(400, "Malformed request body");
    };
    let Some((action, arg)) = obj.iter().next() else {
        return nova_err(400, "Malformed request body");
    };
    match action.as_str() {
        "evacuate" => {
            c.sh.lock()
                .evac_requests
                .entry(id.to_string())
                .and_modify(|n| *n += 1)
                .or_insert(1);
            evacuate(c, id, arg, mv)
        }
        "os-start" | "os-stop" => start_stop(c, id, action == "os-start"),
        other => nova_err(400, &format!("There is no such action: {other}")),
    }
}

fn start_stop(c: &Ctx, id: &str, start: bool) -> Reply {
    let mut st = c.sh.lock();
    let now = Instant::now();
    let Some(s) = st.server(id) else {
        return nova_err(404, &format!("Instance {id} could not be found."));
    };
    let (action, ok_states): (&str, &[&str]) = if start {
        ("start", &["stopped"])
    } else {
        ("stop", &["active", "error", "rescued"])
    };
    if !ok_states.contains(&s.vm_state.as_str()) {
        return nova_err(
            409,
            &format!(
                "Cannot '{action}' instance {id} while it is in vm_state {}",
                s.vm_state
            ),
        );
    }
    if let Some(ts) = &s.task_state {
        return nova_err(
            409,
            &format!("Cannot '{action}' instance {id} while it is in task_state {ts}"),
        );
    }
    let alive = s
        .host
        .as_deref()
        .map(|h| st.compute(h).map(|x| x.alive).unwrap_or(false))
        .unwrap_or(false);
    let _ = now;
    let s = st.server_mut(id).unwrap();
    s.updated = SystemTime::now();
    if alive {
        // The compute acts within the request latency.
        if start {
            s.vm_state = "active".into();
            s.power_state = 1;
        } else {
            s.vm_state = "stopped".into();
            s.power_state = 4;
        }
    } else {
        // RPC cast to a dead compute: stays in the transitional task state.
        s.task_state = Some(if start { "powering-on" } else { "powering-off" }.into());
    }
    Reply::empty(202)
}

fn evacuate(c: &Ctx, id: &str, arg: &Value, mv: Mv) -> Reply {
    // 1. JSON schema, per microversion.
    let Some(ev) = arg.as_object() else {
        return invalid_input(
            "evacuate",
            arg,
            &format!("{} is not of type 'object'", py_repr(arg)),
        );
    };
    let mut allowed = vec!["host", "adminPass"];
    if mv < (2, 14) {
        allowed.push("onSharedStorage");
    }
    if ((2, 29)..(2, 68)).contains(&mv) {
        allowed.push("force");
    }
    if let Some(msg) = additional(ev, &allowed) {
        return invalid_input("evacuate", arg, &msg);
    }
    let mut on_shared = false;
    if mv < (2, 14) {
        match ev.get("onSharedStorage") {
            None => {
                return invalid_input("evacuate", arg, "'onSharedStorage' is a required property")
            }
            Some(v) => match nova_bool(v) {
                Some(b) => on_shared = b,
                None => {
                    return invalid_input(
                        "onSharedStorage",
                        v,
                        &format!("{} is not one of {NOVA_BOOL_ENUM}", py_repr(v)),
                    )
                }
            },
        }
    }
    let host = match ev.get("host") {
        None => None,
        Some(Value::String(h)) if !h.is_empty() && h.len() <= 255 => Some(h.clone()),
        Some(v @ Value::String(_)) => {
            return invalid_input(
                "host",
                v,
                &format!("{} does not match '^[a-zA-Z0-9-._]*$'", py_repr(v)),
            )
        }
        Some(v) => {
            return invalid_input(
                "host",
                v,
                &format!("{} is not of type 'string'", py_repr(v)),
            )
        }
    };
    let force = match ev.get("force") {
        None => false,
        Some(v) => match nova_bool(v) {
            Some(b) => b,
            None => {
                return invalid_input(
                    "force",
                    v,
                    &format!("{} is not one of {NOVA_BOOL_ENUM}", py_repr(v)),
                )
            }
        },
    };
    if let Some(pw) = ev.get("adminPass") {
        if !pw.is_string() {
            return invalid_input(
                "adminPass",
                pw,
                &format!("{} is not of type 'string'", py_repr(pw)),
            );
        }
    }
    let now = Instant::now();
    let mut st = c.sh.lock();
    // 2. instance
    let Some(srv) = st.server(id) else {
        return nova_err(404, &format!("Instance {id} could not be found."));
    };
    // 3. target host must be a known compute
    if let Some(h) = &host {
        if st.compute(h).is_none() {
            return nova_err(404, &format!("Compute host {h} not found."));
        }
    }
    if on_shared && ev.get("adminPass").is_some() {
        return nova_err(400, "admin password can't be changed on existing disk");
    }
    if host.is_some() && srv.host == host {
        return nova_err(400, "The target host can't be the same one.");
    }
    // 4. compute API: instance state, then source service.
    if !["active", "stopped", "error"].contains(&srv.vm_state.as_str()) {
        return nova_err(
            409,
            &format!(
                "Cannot 'evacuate' instance {id} while it is in vm_state {}",
                srv.vm_state
            ),
        );
    }
    if let Some(ts) = &srv.task_state {
        return nova_err(
            409,
            &format!("Cannot 'evacuate' instance {id} while it is in task_state {ts}"),
        );
    }
    let source = srv.host.clone().unwrap_or_default();
    if st.compute_up(&source, now) {
        return nova_err(
            400,
            &format!("Compute service of {source} is still in use."),
        );
    }
    // 5. accepted: scheduling happens behind the API (errors show on the
    // migration, not in the response), except a forced host (2.29-2.67).
    let dest = match &host {
        Some(h) if force => Some(h.clone()),
        Some(h) => {
            let svc = st.compute(h).unwrap();
            if svc.is_up(now, st.down_time) && !svc.disabled {
                Some(h.clone())
            } else {
                None
            }
        }
        None => st.schedule(&source, now),
    };
    let idx = st.start_evacuation(id, dest, mv, now);
    if host.is_some() {
        st.migrations[idx].dest_compute = host.clone();
    }
    if mv < (2, 14) {
        let pass = if on_shared {
            Value::Null
        } else {
            json!(st.rng.hex32()[..12].to_string())
        };
        return Reply::json(200, json!({"adminPass": pass}));
    }
    Reply::empty(200)
}

fn service_json(st: &State, s: &crate::state::Service, mv: Mv) -> Value {
    let now = Instant::now();
    let mut v = json!({
        "binary": s.binary, "host": s.host, "zone": s.zone,
        "status": if s.disabled { "disabled" } else { "enabled" },
        "state": if s.is_up(now, st.down_time) { "up" } else { "down" },
        "updated_at": ts_micro(s.reported_at()),
        "disabled_reason": s.disabled_reason,
    });
    let o = v.as_object_mut().unwrap();
    o.insert(
        "id".into(),
        if mv >= (2, 53) {
            json!(s.uuid)
        } else {
            json!(s.id)
        },
    );
    if mv >= (2, 11) {
        o.insert("forced_down".into(), json!(s.forced_down));
    }
    v
}

fn list_services(c: &Ctx, mv: Mv) -> Reply {
    let st = c.sh.lock();
    let host = c.q("host");
    let binary = c.q("binary");
    let list: Vec<Value> = st
        .services
        .iter()
        .filter(|s| host.map(|h| h.is_empty() || s.host == h).unwrap_or(true))
        .filter(|s| {
            binary
                .map(|b| b.is_empty() || s.binary == b)
                .unwrap_or(true)
        })
        .map(|s| service_json(&st, s, mv))
        .collect();
    Reply::json(200, json!({"services": list}))
}

fn forced_up_refused(host: &str) -> Reply {
    nova_err(
        400,
        &format!(
            "Unable to force up host {host} as `done` evacuation migration records remain associated with the host. \
             Ensure the compute service has been restarted, allowing these records to move to `completed` \
             before retrying this request."
        ),
    )
}

fn is_uuid_like(s: &str) -> bool {
    let h: String = s.chars().filter(|c| *c != '-').collect();
    h.len() == 32 && h.chars().all(|c| c.is_ascii_hexdigit())
}

fn update_service(c: &Ctx, id: &str, mv: Mv) -> Reply {
    let body: Value = match serde_json::from_str(&c.body) {
        Ok(v) => v,
        Err(_) => return nova_err(400, "Malformed request body"),
    };
    let Some(obj) = body.as_object() else {
        return invalid_input(
            "body",
            &body,
            &format!("{} is not of type 'object'", py_repr(&body)),
        );
    };
    if mv >= (2, 53) {
        if !is_uuid_like(id) {
            return nova_err(400, &format!("Invalid uuid {id}"));
        }
        if let Some(msg) = additional(obj, &["status", "disabled_reason", "forced_down"]) {
            return invalid_input("body", &body, &msg);
        }
        let status = match obj.get("status") {
            None => None,
            Some(Value::String(s)) if s == "enabled" || s == "disabled" => Some(s.clone()),
            Some(v) => {
                return invalid_input(
                    "status",
                    v,
                    &format!("{} is not one of ['enabled', 'disabled']", py_repr(v)),
                )
            }
        };
        let reason = match obj.get("disabled_reason") {
            None => None,
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 => Some(s.clone()),
            Some(v) => {
                return invalid_input(
                    "disabled_reason",
                    v,
                    &format!("{} is not of type 'string'", py_repr(v)),
                )
            }
        };
        let forced = match obj.get("forced_down") {
            None => None,
            Some(v) => match nova_bool(v) {
                Some(b) => Some(b),
                None => {
                    return invalid_input(
                        "forced_down",
                        v,
                        &format!("{} is not one of {NOVA_BOOL_ENUM}", py_repr(v)),
                    )
                }
            },
        };
        if reason.is_some() && status.as_deref() != Some("disabled") {
            return nova_err(
                400,
                "Specifying 'disabled_reason' with status 'enabled' is invalid.",
            );
        }
        if status.is_none() && forced.is_none() {
            return nova_err(
                400,
                "No updates were requested. Fields 'status' or 'forced_down' should be specified.",
            );
        }
        let mut st = c.sh.lock();
        let Some(idx) = st.services.iter().position(|s| s.uuid == id) else {
            return nova_err(404, &format!("Service {id} could not be found."));
        };
        let host = st.services[idx].host.clone();
        if st.services[idx].binary != "nova-compute" && forced.is_some() {
            return nova_err(
                400,
                "Updating 'forced_down' is only supported for nova-compute services.",
            );
        }
        if forced == Some(false) && st.has_done_evacuations(&host) {
            return forced_up_refused(&host);
        }
        let s = &mut st.services[idx];
        if let Some(stt) = &status {
            s.disabled = stt == "disabled";
            s.disabled_reason = if s.disabled { reason } else { None };
        }
        if let Some(f) = forced {
            s.forced_down = f;
        }
        s.updated_at = SystemTime::now();
        let v = service_json(&st, &st.services[idx], mv);
        return Reply::json(200, json!({"service": v}));
    }
    // Before 2.53: action names.
    let action = id;
    let valid = match action {
        "enable" | "disable" | "disable-log-reason" => true,
        "force-down" => mv >= (2, 11),
        _ => false,
    };
    if !valid {
        return nova_err(404, "Unknown action");
    }
    let mut allowed = vec!["host", "binary"];
    if action == "disable-log-reason" {
        allowed.push("disabled_reason");
    }
    if action == "force-down" {
        allowed.push("forced_down");
    }
    if let Some(msg) = additional(obj, &allowed) {
        return invalid_input("body", &body, &msg);
    }
    for req in ["host", "binary"] {
        if !obj.get(req).map(Value::is_string).unwrap_or(false) {
            return invalid_input("body", &body, &format!("'{req}' is a required property"));
        }
    }
    let host = obj["host"].as_str().unwrap().to_string();
    let binary = obj["binary"].as_str().unwrap().to_string();
    let mut st = c.sh.lock();
    let Some(idx) = st
        .services
        .iter()
        .position(|s| s.host == host && s.binary == binary)
    else {
        return nova_err(
            404,
            &format!("Could not find binary {binary} on host {host}."),
        );
    };
    match action {
        "enable" => {
            let s = &mut st.services[idx];
            s.disabled = false;
            s.disabled_reason = None;
            Reply::json(
                200,
                json!({"service": {"host": host, "binary": binary, "status": "enabled"}}),
            )
        }
        "disable" => {
            let s = &mut st.services[idx];
            s.disabled = true;
            s.disabled_reason = None;
            Reply::json(
                200,
                json!({"service": {"host": host, "binary": binary, "status": "disabled"}}),
            )
        }
        "disable-log-reason" => {
            let Some(r) = obj.get("disabled_reason").and_then(Value::as_str) else {
                return nova_err(400, "Missing disabled reason field");
            };
            let s = &mut st.services[idx];
            s.disabled = true;
            s.disabled_reason = Some(r.to_string());
            Reply::json(
                200,
                json!({"service": {"host": host, "binary": binary, "status": "disabled", "disabled_reason": r}}),
            )
        }
        _ => {
            let Some(v) = obj.get("forced_down") else {
                return nova_err(400, "Missing forced_down field");
            };
            let Some(f) = nova_bool(v) else {
                return invalid_input(
                    "forced_down",
                    v,
                    &format!("{} is not one of {NOVA_BOOL_ENUM}", py_repr(v)),
                );
            };
            if !f && st.has_done_evacuations(&host) {
                return forced_up_refused(&host);
            }
            st.services[idx].forced_down = f;
            Reply::json(
                200,
                json!({"service": {"host": host, "binary": binary, "forced_down": f}}),
            )
        }
    }
}

fn list_migrations(c: &Ctx, mv: Mv) -> Reply {
    let st = c.sh.lock();
    let f_type = c.q("migration_type");
    let f_src = c.q("source_compute");
    let f_inst = c.q("instance_uuid");
    let f_status = c.q("status");
    let f_host = c.q("host");
    // Nova: newest first (created_at desc, id desc).
    let list: Vec<Value> = st
        .migrations
        .iter()
        .rev()
        .filter(|_| f_type.map(|t| t == "evacuation").unwrap_or(true))
        .filter(|m| f_src.map(|s| m.source_compute == s).unwrap_or(true))
        .filter(|m| f_inst.map(|i| m.instance_uuid == i).unwrap_or(true))
        .filter(|m| f_status.map(|s| m.status == s).unwrap_or(true))
        .filter(|m| {
            f_host
                .map(|h| m.source_compute == h || m.dest_compute.as_deref() == Some(h))
                .unwrap_or(true)
        })
        .map(|m| {
            let mut v = json!({
                "id": m.id, "instance_uuid": m.instance_uuid,
                "source_compute": m.source_compute, "source_node": m.source_compute,
                "dest_compute": m.dest_compute, "dest_node": m.dest_compute, "dest_host": null,
                "status": m.status, "created_at": ts_micro(m.created), "updated_at": ts_micro(m.updated),
                "old_instance_type_id": m.flavor_id, "new_instance_type_id": m.flavor_id,
            });
            let o = v.as_object_mut().unwrap();
            if mv >= (2, 23) {
                o.insert("migration_type".into(), json!("evacuation"));
            }
            if mv >= (2, 59) {
                o.insert("uuid".into(), json!(m.uuid));
            }
            if mv >= (2, 80) {
                o.insert("user_id".into(), json!(m.user_id));
                o.insert("project_id".into(), json!(m.project_id));
            }
            v
        })
        .collect();
    Reply::json(200, json!({"migrations": list}))
}

fn hypervisors(c: &Ctx, mv: Mv, detail: bool) -> Reply {
    let st = c.sh.lock();
    let now = Instant::now();
    let list: Vec<Value> = st
        .services
        .iter()
        .filter(|s| s.binary == "nova-compute")
        .map(|s| {
            let id = if mv >= (2, 53) { json!(s.uuid) } else { json!(s.id) };
            let mut v = json!({
                "id": id, "hypervisor_hostname": s.host,
                "state": if s.is_up(now, st.down_time) { "up" } else { "down" },
                "status": if s.disabled { "disabled" } else { "enabled" },
            });
            if detail {
                let o = v.as_object_mut().unwrap();
                let running = st
                    .servers
                    .values()
                    .filter(|x| x.host.as_deref() == Some(&s.host))
                    .count();
                o.insert("hypervisor_type".into(), json!("fake"));
                o.insert("hypervisor_version".into(), json!(1000));
                o.insert("host_ip".into(), json!("127.0.0.1"));
                o.insert(
                    "service".into(),
                    json!({"host": s.host, "id": if mv >= (2, 53) { json!(s.uuid) } else { json!(s.id) },
                           "disabled_reason": s.disabled_reason}),
                );
                if mv < (2, 88) {
                    o.insert("vcpus".into(), json!(1000));
                    o.insert("memory_mb".into(), json!(800_000));
                    o.insert("local_gb".into(), json!(600_000));
                    o.insert("vcpus_used".into(), json!(running));
                    o.insert("memory_mb_used".into(), json!(512 + running * 2048));
                    o.insert("local_gb_used".into(), json!(running * 20));
                    o.insert("free_ram_mb".into(), json!(800_000 - 512 - running * 2048));
                    o.insert("free_disk_gb".into(), json!(600_000 - running * 20));
                    o.insert("current_workload".into(), json!(0));
                    o.insert("running_vms".into(), json!(running));
                    o.insert("disk_available_least".into(), json!(600_000 - running * 20));
                    o.insert("cpu_info".into(), json!("{}"));
                } else {
                    o.insert("uptime".into(), Value::Null);
                }
            }
            v
        })
        .collect();
    Reply::json(200, json!({"hypervisors": list}))
}
