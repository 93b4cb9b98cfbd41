//! Black-box tests of `instance_ha::openstack` over real HTTP, against a
//! small Keystone/Nova/Glance stand-in written here on `TcpListener`
//! (one thread per connection, `Connection: close`), so the tests see the
//! exact bytes the client sends.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use instance_ha::error::Error;
use instance_ha::openstack::{
    CloudConfig, EvacuateOptions, Glance, Interface, Microversion, MigrationFilter, Nova, Secret,
    ServiceUpdate, Session, VersionRange,
};
use serde_json::{json, Value};

// ---------------------------------------------------------------- server

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path with query.
    target: String,
    headers: HashMap<String, String>,
    body: String,
}

impl Seen {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap()
    }
    fn query(&self) -> &str {
        self.target.split_once('?').map(|(_, q)| q).unwrap_or("")
    }
    fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .get(&k.to_ascii_lowercase())
            .map(String::as_str)
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    delay: Duration,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        headers: vec![],
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

type Handler = dyn Fn(&Seen, &str) -> Reply + Send + Sync;

struct TestServer {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl TestServer {
    fn start(handler: impl Fn(&Seen, &str) -> Reply + Send + Sync + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let base = format!("http://{addr}");
        let l2 = log.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (h, l, b) = (handler.clone(), l2.clone(), base.clone());
                std::thread::spawn(move || {
                    let _ = serve_one(conn, &*h, &l, &b);
                });
            }
        });
        TestServer { addr, log }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    fn count(&self, method: &str, path_contains: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == method && s.path().contains(path_contains))
            .count()
    }
}

fn serve_one(
    conn: TcpStream,
    h: &Handler,
    log: &Mutex<Vec<Seen>>,
    base: &str,
) -> std::io::Result<()> {
    let mut r = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut headers = HashMap::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l)?;
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    let seen = Seen {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    log.lock().unwrap().push(seen.clone());
    let rep = h(&seen, base);
    std::thread::sleep(rep.delay);
    let mut out = format!("HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n", rep.status, rep.body.len());
    for (k, v) in &rep.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&rep.body);
    let mut w = conn;
    w.write_all(out.as_bytes())?;
    w.flush()
}

// ---------------------------------------------------------- fake cloud

const PASSWORD: &str = "hunter2-PASSWORD";
const TOKEN_PREFIX: &str = "gAAAAA-TOKEN-SECRET-";

/// Keystone + Nova + Glance stand-in. Tokens are `TOKEN_PREFIX<n>`; the
/// services accept only tokens numbered >= `min_valid_token`.
struct Cloud {
    tokens: AtomicUsize,
    min_valid_token: AtomicUsize,
    nova_max: Mutex<String>,
}

fn cloud(nova_max: &str) -> (Arc<Cloud>, TestServer) {
    let c = Arc::new(Cloud {
        tokens: AtomicUsize::new(0),
        min_valid_token: AtomicUsize::new(1),
        nova_max: Mutex::new(nova_max.into()),
    });
    let c2 = c.clone();
    let srv = TestServer::start(move |req, base| c2.handle(req, base));
    (c, srv)
}

fn catalog(base: &str) -> Value {
    json!([
        {"type": "identity", "name": "keystone", "endpoints": [
            {"interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": format!("{base}/v3")}]},
        {"type": "compute", "name": "nova", "endpoints": [
            {"interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": format!("{base}/compute/public/v2.1")},
            {"interface": "internal", "region": "RegionOne", "region_id": "RegionOne", "url": format!("{base}/compute/internal/v2.1")},
            {"interface": "internal", "region": "RegionTwo", "region_id": "RegionTwo", "url": format!("{base}/compute/r2/v2.1/")}]},
        {"type": "image", "name": "glance", "endpoints": [
            {"interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": format!("{base}/image")}]}
    ])
}

fn server_json(id: &str, host: &str) -> Value {
    json!({"id": id, "name": format!("vm-{id}"), "status": "ACTIVE", "OS-EXT-SRV-ATTR:host": host,
           "OS-EXT-STS:vm_state": "active", "OS-EXT-STS:task_state": null, "OS-EXT-STS:power_state": 1,
           "flavor": {"original_name": "m1.small", "extra_specs": {"evacuable": "true"}},
           "image": {"id": "img-1"}, "metadata": {}, "tenant_id": "p1", "updated": "2026-11-21T10:00:00Z"})
}

impl Cloud {
    fn handle(&self, req: &Seen, base: &str) -> Reply {
        let path = req.path();
        if req.method == "POST" && path == "/v3/auth/tokens" {
            let n = self.tokens.fetch_add(1, Ordering::SeqCst) + 1;
            let mut r = reply(
                201,
                json!({"token": {"expires_at": "2099-01-01T00:00:00.000000Z", "catalog": catalog(base)}}),
            );
            r.headers
                .push(("X-Subject-Token".into(), format!("{TOKEN_PREFIX}{n}")));
            return r;
        }
        if req.method == "GET" && (path == "/" || path.is_empty()) {
            return reply(
                300,
                json!({"versions": {"values": [
                {"id": "v3.14", "status": "stable", "links": [{"rel": "self", "href": format!("{base}/v3/")}]}]}}),
            );
        }
        // Everything else needs a valid token.
        let tok = req.header("x-auth-token").unwrap_or("");
        let n: usize = tok
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if n < self.min_valid_token.load(Ordering::SeqCst) {
            return reply(
                401,
                json!({"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}),
            );
        }
        let nova = path
            .strip_prefix("/compute/public/v2.1")
            .or_else(|| path.strip_prefix("/compute/internal/v2.1"))
            .or_else(|| path.strip_prefix("/compute/r2/v2.1"));
        if let Some(p) = nova {
            return self.nova(req, p);
        }
        if let Some(p) = path.strip_prefix("/image") {
            if p == "/v2/images/img-1" {
                return reply(
                    200,
                    json!({"id": "img-1", "name": "cirros", "status": "active", "tags": ["evacuable"],
                    "visibility": "public", "size": 1, "self": "/v2/images/img-1", "hw_machine_type": "q35"}),
                );
            }
            return Reply { status: 404, headers: vec![], body: "<html><body><h1>404 Not Found</h1>The resource could not be found.</body></html>".into(), delay: Duration::ZERO };
        }
        reply(
            404,
            json!({"itemNotFound": {"code": 404, "message": format!("no route {path}")}}),
        )
    }

    fn nova(&self, req: &Seen, p: &str) -> Reply {
        let max = self.nova_max.lock().unwrap().clone();
        match (req.method.as_str(), p) {
            ("GET", "/") => reply(
                200,
                json!({"version": {"id": "v2.1", "status": "CURRENT", "version": max, "min_version": "2.1"}}),
            ),
            ("GET", "/os-services") => reply(
                200,
                json!({"services": [
                {"id": "e81d66a4-ddd3-4aba-8a84-171d1cb4d339", "binary": "nova-compute", "host": "compute-1", "zone": "nova",
                 "status": "enabled", "state": "down", "forced_down": false, "disabled_reason": null, "updated_at": "2026-11-21T10:00:00.000000"}]}),
            ),
            ("PUT", _) if p.starts_with("/os-services") => reply(200, json!({"service": {}})),
            ("GET", "/servers/detail") => {
                // Two pages: the first links to the second by marker.
                if req.query().contains("marker=s2") {
                    reply(200, json!({"servers": [server_json("s3", "compute-1")]}))
                } else {
                    reply(
                        200,
                        json!({"servers": [server_json("s1", "compute-1"), server_json("s2", "compute-1")],
                        "servers_links": [{"rel": "next", "href": "http://unreachable.example/v2.1/servers/detail?all_tenants=1&host=compute-1&marker=s2"}]}),
                    )
                }
            }
            ("POST", "/servers/busy/action") => reply(
                400,
                json!({"badRequest": {"code": 400, "message": "Compute service of compute-1 is still in use."}}),
            ),
            ("POST", _) if p.ends_with("/action") => Reply {
                status: 202,
                headers: vec![],
                body: String::new(),
                delay: Duration::ZERO,
            },
            ("GET", "/os-migrations") => reply(
                200,
                json!({"migrations": [
                {"id": 7, "uuid": "m-7", "instance_uuid": "s1", "source_compute": "compute-1", "dest_compute": "compute-2",
                 "status": "done", "migration_type": "evacuation", "created_at": "2026-11-21T10:00:00.000000", "updated_at": null}]}),
            ),
            ("GET", "/os-hypervisors/detail") => reply(
                200,
                json!({"hypervisors": [
                {"id": "h-1", "hypervisor_hostname": "compute-1.example.com", "state": "down", "status": "enabled",
                 "service": {"host": "compute-1", "id": "x"}, "host_ip": "192.0.2.11"}]}),
            ),
            ("GET", "/flavors/42/os-extra_specs") => {
                reply(200, json!({"extra_specs": {"evacuable": "true"}}))
            }
            _ => reply(
                404,
                json!({"itemNotFound": {"code": 404, "message": format!("no route {p}")}}),
            ),
        }
    }
}

fn password_config(base: &str) -> CloudConfig {
    CloudConfig {
        auth_url: Some(format!("{base}/v3")),
        username: Some("admin".into()),
        password: Some(Secret::new(PASSWORD)),
        project_name: Some("admin".into()),
        user_domain_name: Some("Default".into()),
        connect_timeout: Some(Duration::from_secs(2)),
        read_timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    }
}

/// No secret in any rendering of an error.
fn assert_clean(e: &Error) {
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains(PASSWORD), "password leaked: {text}");
        assert!(!text.contains(TOKEN_PREFIX), "token leaked: {text}");
        assert!(!text.contains("app-secret"), "secret leaked: {text}");
    }
}

fn nova(srv: &TestServer, cfg: CloudConfig) -> Nova {
    let _ = srv;
    Nova::new(Arc::new(Session::new(cfg).unwrap()))
}

// ------------------------------------------------------------------ tests

#[test]
fn password_token_request_shape() {
    let (_c, srv) = cloud("2.60");
    let s = Session::new(password_config(&srv.base())).unwrap();
    s.authenticate().unwrap();
    let seen = srv.seen();
    let t = seen.iter().find(|r| r.path() == "/v3/auth/tokens").unwrap();
    assert_eq!(t.method, "POST");
    assert_eq!(t.header("content-type"), Some("application/json"));
    assert!(t.header("x-auth-token").is_none());
    assert_eq!(
        t.json(),
        json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": PASSWORD}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
    );
    assert_eq!(s.stats().token_requests, 1);
    assert!(!format!("{s:?}").contains(PASSWORD));
}

#[test]
fn unversioned_auth_url_is_discovered() {
    let (_c, srv) = cloud("2.60");
    let mut cfg = password_config(&srv.base());
    cfg.auth_url = Some(format!("{}/", srv.base()));
    let s = Session::new(cfg).unwrap();
    s.authenticate().unwrap();
    let seen = srv.seen();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path(), "/");
    assert_eq!(seen[1].path(), "/v3/auth/tokens");
}

#[test]
fn application_credential_token_request_shape() {
    let (_c, srv) = cloud("2.60");
    let cfg = CloudConfig {
        auth_url: Some(format!("{}/v3/", srv.base())),
        application_credential_id: Some("ac-1".into()),
        application_credential_secret: Some(Secret::new("app-secret")),
        ..Default::default()
    };
    let s = Session::new(cfg).unwrap();
    s.authenticate().unwrap();
    let t = srv
        .seen()
        .into_iter()
        .find(|r| r.path() == "/v3/auth/tokens")
        .unwrap();
    assert_eq!(
        t.json(),
        json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": "ac-1", "secret": "app-secret"}}}})
    );
}

#[test]
fn keystone_401_is_auth_error_without_secrets() {
    let srv = TestServer::start(|req, _| {
        // A misbehaving proxy echoing the request body back.
        reply(
            401,
            json!({"error": {"code": 401, "message": format!("rejected {}", req.body)}}),
        )
    });
    let s = Session::new(password_config(&srv.base())).unwrap();
    let e = s.authenticate().unwrap_err();
    assert!(matches!(e, Error::Auth { .. }), "{e:?}");
    assert_clean(&e);
}

#[test]
fn a_401_reauthenticates_once_and_retries() {
    let (c, srv) = cloud("2.60");
    let n = nova(&srv, password_config(&srv.base()));
    n.compute_services(None).unwrap();
    assert_eq!(c.tokens.load(Ordering::SeqCst), 1);
    // Revoke token 1: the next call gets 401, re-authenticates, retries.
    c.min_valid_token.store(2, Ordering::SeqCst);
    let services = n.compute_services(Some("compute-1")).unwrap();
    assert_eq!(services.len(), 1);
    let st = n.session().stats();
    assert_eq!(st.token_requests, 2);
    assert_eq!(st.reauth_after_401, 1);
    let calls: Vec<_> = srv
        .seen()
        .into_iter()
        .filter(|r| r.path().ends_with("/os-services"))
        .collect();
    assert_eq!(calls.len(), 3);
    assert_eq!(
        calls[1].header("x-auth-token"),
        Some(format!("{TOKEN_PREFIX}1").as_str())
    );
    assert_eq!(
        calls[2].header("x-auth-token"),
        Some(format!("{TOKEN_PREFIX}2").as_str())
    );

    // A service that refuses every token: one retry, then Error::Auth.
    c.min_valid_token.store(usize::MAX, Ordering::SeqCst);
    let before = srv.count("GET", "/os-services");
    let e = n.compute_services(None).unwrap_err();
    assert!(matches!(e, Error::Auth { .. }), "{e:?}");
    assert_eq!(srv.count("GET", "/os-services") - before, 2);
    assert_clean(&e);
}

#[test]
fn concurrent_401s_cost_one_reauthentication() {
    let (c, srv) = cloud("2.60");
    let n = Arc::new(nova(&srv, password_config(&srv.base())));
    n.compute_services(None).unwrap();
    c.min_valid_token.store(2, Ordering::SeqCst);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let n = n.clone();
            std::thread::spawn(move || n.compute_services(None).map(|s| s.len()))
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap(), 1);
    }
    assert_eq!(
        c.tokens.load(Ordering::SeqCst),
        2,
        "one token for all threads"
    );
}

#[test]
fn catalog_lookup_by_interface_and_region() {
    let (_c, srv) = cloud("2.60");
    let mut cfg = password_config(&srv.base());
    cfg.interface = Some(Interface::Internal);
    cfg.region_name = Some("RegionTwo".into());
    let n = nova(&srv, cfg.clone());
    n.compute_services(None).unwrap();
    assert!(
        srv.seen()
            .iter()
            .any(|r| r.path() == "/compute/r2/v2.1/os-services"),
        "{:?}",
        srv.seen()
    );

    cfg.region_name = Some("RegionOne".into());
    let s = Session::new(cfg.clone()).unwrap();
    assert_eq!(
        s.endpoint("compute").unwrap(),
        format!("{}/compute/internal/v2.1", srv.base())
    );

    cfg.interface = Some(Interface::Admin);
    let s = Session::new(cfg).unwrap();
    let e = s.endpoint("compute").unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
    assert!(
        m.contains("no compute endpoint with interface admin in region RegionOne"),
        "{m}"
    );
    assert!(
        m.contains("compute [public RegionOne, internal RegionOne, internal RegionTwo]"),
        "{m}"
    );
}

#[test]
fn microversion_headers_and_choices_on_a_modern_nova() {
    let (_c, srv) = cloud("2.103");
    let n = nova(&srv, password_config(&srv.base()));
    assert_eq!(
        n.versions().unwrap(),
        VersionRange {
            min: Microversion::new(2, 1),
            max: Microversion::new(2, 103)
        }
    );
    let svc = n.compute_services(Some("compute-1")).unwrap().remove(0);
    assert_eq!(svc.id, "e81d66a4-ddd3-4aba-8a84-171d1cb4d339");
    let list = srv
        .seen()
        .into_iter()
        .rfind(|r| r.path().ends_with("/os-services"))
        .unwrap();
    assert_eq!(list.header("x-openstack-nova-api-version"), Some("2.53"));
    assert_eq!(list.header("openstack-api-version"), Some("compute 2.53"));
    assert!(
        list.query().contains("binary=nova-compute") && list.query().contains("host=compute-1"),
        "{}",
        list.query()
    );

    n.update_service(
        &svc,
        &ServiceUpdate {
            forced_down: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    n.update_service(
        &svc,
        &ServiceUpdate {
            enabled: Some(false),
            disabled_reason: Some("fenced by instance-ha".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let puts: Vec<_> = srv
        .seen()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(
        puts[0].path(),
        "/compute/public/v2.1/os-services/e81d66a4-ddd3-4aba-8a84-171d1cb4d339"
    );
    assert_eq!(puts[0].json(), json!({"forced_down": true}));
    assert_eq!(
        puts[1].json(),
        json!({"status": "disabled", "disabled_reason": "fenced by instance-ha"})
    );

    // Servers at 2.47 (embedded flavor), two pages followed by marker.
    let servers = n.servers_on_host("compute-1").unwrap();
    assert_eq!(
        servers.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["s1", "s2", "s3"]
    );
    assert_eq!(servers[0].flavor.extra_specs["evacuable"], "true");
    assert_eq!(servers[0].image_id.as_deref(), Some("img-1"));
    let pages: Vec<_> = srv
        .seen()
        .into_iter()
        .filter(|r| r.path().ends_with("/servers/detail"))
        .collect();
    assert_eq!(pages.len(), 2);
    assert_eq!(
        pages[0].header("x-openstack-nova-api-version"),
        Some("2.47")
    );
    assert!(pages[1].query().contains("marker=s2") && pages[1].query().contains("all_tenants=1"));
    assert_eq!(srv.count("GET", "os-extra_specs"), 0);

    // Evacuate: default is the highest <= 2.94, no onSharedStorage.
    let ev = n
        .evacuate(
            "s1",
            &EvacuateOptions {
                on_shared_storage: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(ev.microversion, Microversion::new(2, 94));
    assert!(!ev.arrives_stopped);
    let post = srv
        .seen()
        .into_iter()
        .rfind(|r| r.method == "POST" && r.path().ends_with("/servers/s1/action"))
        .unwrap();
    assert_eq!(post.json(), json!({"evacuate": {}}));
    assert_eq!(post.header("openstack-api-version"), Some("compute 2.94"));
    let ev = n
        .evacuate(
            "s1",
            &EvacuateOptions {
                host: Some("compute-2".into()),
                microversion: Some(Microversion::new(2, 95)),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(ev.arrives_stopped);
    let post = srv
        .seen()
        .into_iter()
        .rfind(|r| r.method == "POST")
        .unwrap();
    assert_eq!(post.json(), json!({"evacuate": {"host": "compute-2"}}));
    let e = n
        .evacuate(
            "s1",
            &EvacuateOptions {
                microversion: Some(Microversion::new(2, 200)),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");

    n.stop_server("s1").unwrap();
    let post = srv
        .seen()
        .into_iter()
        .rfind(|r| r.method == "POST")
        .unwrap();
    assert_eq!(post.json(), json!({"os-stop": null}));

    let migs = n
        .migrations(&MigrationFilter {
            instance_uuid: Some("s1".into()),
            ..MigrationFilter::evacuations_from("compute-1")
        })
        .unwrap();
    assert_eq!(migs[0].id, "7");
    assert_eq!(migs[0].dest_compute.as_deref(), Some("compute-2"));
    let q = srv
        .seen()
        .into_iter()
        .rfind(|r| r.path().ends_with("/os-migrations"))
        .unwrap();
    assert_eq!(q.header("x-openstack-nova-api-version"), Some("2.59"));
    for want in [
        "instance_uuid=s1",
        "source_compute=compute-1",
        "migration_type=evacuation",
    ] {
        assert!(q.query().contains(want), "{}", q.query());
    }

    let hv = n.hypervisors().unwrap();
    assert_eq!(hv[0].host.as_deref(), Some("compute-1"));
    assert_eq!(hv[0].state.as_deref(), Some("down"));
}

#[test]
fn legacy_nova_gets_2_11_endpoints_and_on_shared_storage() {
    let (_c, srv) = cloud("2.12");
    let n = nova(&srv, password_config(&srv.base()));
    let mut svc = n.compute_services(None).unwrap().remove(0);
    svc.id = "7".into();
    n.update_service(
        &svc,
        &ServiceUpdate {
            forced_down: Some(true),
            enabled: Some(false),
            disabled_reason: Some("fenced".into()),
        },
    )
    .unwrap();
    n.update_service(
        &svc,
        &ServiceUpdate {
            enabled: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    let puts: Vec<_> = srv
        .seen()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts.len(), 3);
    assert!(puts[0].path().ends_with("/os-services/force-down"));
    assert_eq!(
        puts[0].json(),
        json!({"host": "compute-1", "binary": "nova-compute", "forced_down": true})
    );
    assert_eq!(puts[0].header("x-openstack-nova-api-version"), Some("2.11"));
    assert!(puts[1].path().ends_with("/os-services/disable-log-reason"));
    assert_eq!(puts[1].json()["disabled_reason"], "fenced");
    assert!(puts[2].path().ends_with("/os-services/enable"));

    let ev = n
        .evacuate(
            "s1",
            &EvacuateOptions {
                on_shared_storage: false,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(ev.microversion, Microversion::new(2, 12));
    let post = srv
        .seen()
        .into_iter()
        .rfind(|r| r.method == "POST")
        .unwrap();
    assert_eq!(post.json(), json!({"evacuate": {"onSharedStorage": false}}));
}

#[test]
fn old_nova_servers_get_flavor_extra_specs_looked_up() {
    let srv = TestServer::start(|req, base| {
        let (_c, _) = (0, 0);
        match req.path() {
            "/v3/auth/tokens" => {
                let mut r = reply(
                    201,
                    json!({"token": {"expires_at": "2099-01-01T00:00:00Z", "catalog": catalog(base)}}),
                );
                r.headers.push(("X-Subject-Token".into(), "t".into()));
                r
            }
            "/compute/public/v2.1/servers/detail" => reply(
                200,
                json!({"servers": [
                {"id": "a", "flavor": {"id": "42", "links": []}, "image": ""},
                {"id": "b", "flavor": {"id": "42", "links": []}, "image": ""}]}),
            ),
            "/compute/public/v2.1/flavors/42/os-extra_specs" => {
                reply(200, json!({"extra_specs": {"evacuable": "true"}}))
            }
            _ => reply(404, json!({})),
        }
    });
    let s = Arc::new(Session::new(password_config(&srv.base())).unwrap());
    let n = Nova::with_versions(
        s,
        VersionRange {
            min: Microversion::new(2, 1),
            max: Microversion::new(2, 30),
        },
    );
    let servers = n.servers_on_host("c1").unwrap();
    assert_eq!(servers[1].flavor.extra_specs["evacuable"], "true");
    assert_eq!(servers[0].image_id, None);
    assert_eq!(
        srv.count("GET", "os-extra_specs"),
        1,
        "one lookup per distinct flavor"
    );
    let list = srv
        .seen()
        .into_iter()
        .find(|r| r.path().ends_with("/servers/detail"))
        .unwrap();
    assert_eq!(list.header("x-openstack-nova-api-version"), Some("2.30"));
}

#[test]
fn nova_error_message_is_surfaced_with_status() {
    let (_c, srv) = cloud("2.60");
    let n = nova(&srv, password_config(&srv.base()));
    let e = n.evacuate("busy", &EvacuateOptions::default()).unwrap_err();
    match &e {
        Error::Api {
            service,
            method,
            path,
            status,
            message,
        } => {
            assert_eq!(
                (service.as_str(), method.as_str(), *status),
                ("compute", "POST", 400)
            );
            assert!(path.ends_with("/servers/busy/action"), "{path}");
            assert_eq!(message, "Compute service of compute-1 is still in use.");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string()
            .contains("HTTP 400: Compute service of compute-1 is still in use."),
        "{e}"
    );
    assert_clean(&e);
    let e = n.get_server("nope").unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e:?}");
}

#[test]
fn glance_image_tags_and_properties() {
    let (_c, srv) = cloud("2.60");
    let g = Glance::new(Arc::new(
        Session::new(password_config(&srv.base())).unwrap(),
    ));
    let img = g.get_image("img-1").unwrap();
    assert!(img.has_tag("evacuable"));
    assert_eq!(
        img.properties.keys().collect::<Vec<_>>(),
        ["hw_machine_type"]
    );
    assert!(srv
        .seen()
        .iter()
        .any(|r| r.path() == "/image/v2/images/img-1"));
    assert!(matches!(
        g.get_image("gone").unwrap_err(),
        Error::NotFound(_)
    ));
}

#[test]
fn connection_refused_is_unreachable() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let s = Session::new(password_config(&format!("http://127.0.0.1:{port}"))).unwrap();
    let e = s.authenticate().unwrap_err();
    assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
    assert!(e.is_transient());
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    assert_clean(&e);
}

#[test]
fn slow_server_is_timeout() {
    let srv = TestServer::start(|_, _| Reply {
        status: 200,
        headers: vec![],
        body: "{}".into(),
        delay: Duration::from_secs(3),
    });
    let mut cfg = password_config(&srv.base());
    cfg.read_timeout = Some(Duration::from_millis(300));
    let s = Session::new(cfg).unwrap();
    let t0 = Instant::now();
    let e = s.authenticate().unwrap_err();
    assert!(matches!(e, Error::Timeout(_)), "{e:?}");
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert_clean(&e);
}

#[test]
fn token_cache_skips_keystone_and_is_dropped_on_401() {
    let (c, srv) = cloud("2.60");
    let dir = std::env::temp_dir().join(format!("iha-token-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mk = || {
        Arc::new(
            Session::new(password_config(&srv.base()))
                .unwrap()
                .with_token_cache(&dir),
        )
    };

    let s1 = mk();
    Nova::new(s1.clone()).compute_services(None).unwrap();
    assert_eq!(
        (s1.stats().token_requests, s1.stats().token_cache_writes),
        (1, 1)
    );

    // A second process-like session: no Keystone request.
    let s2 = mk();
    Nova::new(s2.clone()).compute_services(None).unwrap();
    assert_eq!(
        (s2.stats().token_requests, s2.stats().token_cache_hits),
        (0, 1)
    );
    assert_eq!(c.tokens.load(Ordering::SeqCst), 1);

    // The cached token is revoked: 401, cache dropped, new token cached.
    c.min_valid_token.store(2, Ordering::SeqCst);
    let s3 = mk();
    Nova::new(s3.clone()).compute_services(None).unwrap();
    let st = s3.stats();
    assert_eq!(
        (
            st.token_cache_hits,
            st.token_requests,
            st.reauth_after_401,
            st.token_cache_writes
        ),
        (1, 1, 1, 1)
    );
    let s4 = mk();
    s4.authenticate().unwrap();
    assert_eq!(s4.stats().token_cache_hits, 1);
    Nova::new(s4.clone()).compute_services(None).unwrap();
    assert_eq!(s4.stats().reauth_after_401, 0, "the new token was cached");

    for e in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        assert!(!text.contains(PASSWORD));
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn config_and_errors_never_show_secrets() {
    let cfg = CloudConfig {
        application_credential_secret: Some(Secret::new("app-secret")),
        ..password_config("http://127.0.0.1:1")
    };
    let text = format!("{cfg:?}");
    assert!(
        !text.contains(PASSWORD) && !text.contains("app-secret"),
        "{text}"
    );
    let s = Session::new(cfg).unwrap();
    assert!(!format!("{s:?}").contains(PASSWORD));
    let e = CloudConfig {
        password: Some(Secret::new(PASSWORD)),
        ..Default::default()
    }
    .validate()
    .unwrap_err();
    assert_clean(&e);
}
