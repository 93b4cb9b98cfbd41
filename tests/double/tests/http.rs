mod client;

use client::{password_auth, request, Nova};
use nova_double::{Config, Double, ServerSpec};
use serde_json::json;
use std::time::{Duration, Instant};

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting for {what}");
}

fn service_uuid(nova: &Nova, host: &str) -> String {
    let r = nova.get(
        &format!("/os-services?binary=nova-compute&host={host}"),
        "2.53",
    );
    assert_eq!(r.status, 200);
    r.json()["services"][0]["id"].as_str().unwrap().to_string()
}

#[test]
fn keystone_password_success_failure_and_catalog() {
    let d = Double::start(Config::new().password("pw"));
    let r = password_auth(&d.auth_url(), "admin", "pw", "admin");
    assert_eq!(r.status, 201);
    assert!(r.header("X-Subject-Token").unwrap().len() > 20);
    let t = r.json();
    assert!(t["token"]["expires_at"].as_str().unwrap().ends_with('Z'));
    let cat = t["token"]["catalog"].as_array().unwrap();
    let compute = cat.iter().find(|s| s["type"] == "compute").unwrap();
    let eps = compute["endpoints"].as_array().unwrap();
    assert_eq!(eps.len(), 3);
    assert!(eps
        .iter()
        .all(|e| e["region_id"] == "RegionOne" && e["url"] == d.compute_url()));
    assert!(cat.iter().any(|s| s["type"] == "image"));
    assert!(cat.iter().any(|s| s["type"] == "identity"));

    let bad = password_auth(&d.auth_url(), "admin", "nope", "admin");
    assert_eq!(bad.status, 401);
    assert_eq!(
        bad.json(),
        json!({"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}})
    );

    // by ids
    let user_id = t["token"]["user"]["id"].as_str().unwrap();
    let project_id = t["token"]["project"]["id"].as_str().unwrap();
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": user_id, "password": "pw"}}},
                               "scope": {"project": {"id": project_id}}}});
    let r = request(
        "POST",
        &format!("{}/auth/tokens", d.auth_url()),
        &[],
        Some(&body),
    );
    assert_eq!(r.status, 201, "{}", r.body);

    let v = request("GET", &d.auth_url(), &[], None);
    assert_eq!(v.status, 200);
    assert_eq!(v.json()["version"]["id"], "v3.14");
}

#[test]
fn keystone_application_credential() {
    let d = Double::start(Config::new().application_credential("ac-id", "iha", "s3cret"));
    let url = format!("{}/auth/tokens", d.auth_url());
    let by_id = json!({"auth": {"identity": {"methods": ["application_credential"],
        "application_credential": {"id": "ac-id", "secret": "s3cret"}}}});
    let r = request("POST", &url, &[], Some(&by_id));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["token"]["methods"][0], "application_credential");
    assert!(r.json()["token"]["catalog"].is_array());
    let by_name = json!({"auth": {"identity": {"methods": ["application_credential"],
        "application_credential": {"name": "iha", "secret": "s3cret",
                                   "user": {"name": "admin", "domain": {"id": "default"}}}}}});
    assert_eq!(request("POST", &url, &[], Some(&by_name)).status, 201);
    let wrong = json!({"auth": {"identity": {"methods": ["application_credential"],
        "application_credential": {"id": "ac-id", "secret": "x"}}}});
    assert_eq!(request("POST", &url, &[], Some(&wrong)).status, 401);
}

#[test]
fn unauthenticated_and_revoked_tokens_get_401() {
    let d = Double::start(Config::new());
    let r = request(
        "GET",
        &format!("{}/os-services", d.compute_url()),
        &[],
        None,
    );
    assert_eq!(r.status, 401);
    let nova = Nova::login(&d);
    assert_eq!(nova.get("/os-services", "2.53").status, 200);
    d.revoke_tokens();
    let r = nova.get("/os-services", "2.53");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], 401);
    let again = Nova::login(&d);
    assert_eq!(again.get("/os-services", "2.53").status, 200);
    // Glance too
    let r = request(
        "GET",
        &format!("{}/v2/images/x", d.image_url()),
        &[("X-Auth-Token", &nova.token)],
        None,
    );
    assert_eq!(r.status, 401);
}

#[test]
fn microversion_negotiation() {
    let d = Double::start(Config::new());
    let nova = Nova::login(&d);
    let r = nova.get("/os-services", "2.60");
    assert_eq!(r.header("OpenStack-API-Version"), Some("compute 2.60"));
    assert_eq!(r.header("X-OpenStack-Nova-API-Version"), Some("2.60"));
    let r = nova.get("/os-services", "2.104");
    assert_eq!(r.status, 406);
    assert_eq!(
        r.json()["computeFault"]["message"],
        "Version 2.104 is not supported by the API. Minimum is 2.1 and maximum is 2.103."
    );
    let r = nova.get("/os-services", "latest");
    assert_eq!(r.header("OpenStack-API-Version"), Some("compute 2.103"));
    // legacy header only
    let r = request(
        "GET",
        &format!("{}/os-services", d.compute_url()),
        &[
            ("X-Auth-Token", &nova.token),
            ("X-OpenStack-Nova-API-Version", "2.11"),
        ],
        None,
    );
    assert_eq!(r.header("X-OpenStack-Nova-API-Version"), Some("2.11"));
    assert!(r.json()["services"][0]["id"].is_u64());
    // no header: 2.1, no forced_down field
    let r = request(
        "GET",
        &format!("{}/os-services", d.compute_url()),
        &[("X-Auth-Token", &nova.token)],
        None,
    );
    assert_eq!(r.header("X-OpenStack-Nova-API-Version"), Some("2.1"));
    assert!(r.json()["services"][0].get("forced_down").is_none());
    // version documents, unauthenticated
    let v = request("GET", &format!("{}/compute/", d.base_url()), &[], None).json();
    assert_eq!(v["versions"][1]["version"], "2.103");
    let v = request("GET", &d.compute_url(), &[], None).json();
    assert_eq!(v["version"]["min_version"], "2.1");
    assert_eq!(d.requests().last().unwrap().path, "/compute/v2.1");
}

#[test]
fn services_shapes_and_state() {
    let d = Double::start(Config::new());
    let nova = Nova::login(&d);
    let all = nova.get("/os-services", "2.53").json();
    assert!(all["services"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["binary"] == "nova-conductor"));
    let r = nova
        .get("/os-services?binary=nova-compute&host=compute-1", "2.53")
        .json();
    let s = &r["services"][0];
    assert_eq!(r["services"].as_array().unwrap().len(), 1);
    assert_eq!(s["id"].as_str().unwrap().len(), 36);
    assert_eq!(
        (
            s["state"].as_str(),
            s["status"].as_str(),
            s["forced_down"].as_bool()
        ),
        (Some("up"), Some("enabled"), Some(false))
    );
    assert_eq!(s["zone"], "nova");
    d.set_compute_alive("compute-1", false);
    let s = &nova
        .get("/os-services?binary=nova-compute&host=compute-1", "2.53")
        .json()["services"][0];
    assert_eq!(s["state"], "down");
    d.set_compute_alive("compute-1", true);
    // force down + disable with reason via 2.53
    let id = service_uuid(&nova, "compute-1");
    let r = nova.call(
        "PUT",
        &format!("/os-services/{id}"),
        "2.53",
        Some(&json!({"forced_down": true})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["service"]["state"], "down");
    let r = nova.call(
        "PUT",
        &format!("/os-services/{id}"),
        "2.53",
        Some(&json!({"status": "disabled", "disabled_reason": "instance-ha"})),
    );
    assert_eq!(r.json()["service"]["disabled_reason"], "instance-ha");
    let r = nova.call(
        "PUT",
        &format!("/os-services/{id}"),
        "2.53",
        Some(&json!({"status": "enabled", "disabled_reason": "x"})),
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["badRequest"]["message"]
        .as_str()
        .unwrap()
        .contains("disabled_reason"));
    // legacy actions
    let r = nova.call(
        "PUT",
        "/os-services/force-down",
        "2.11",
        Some(&json!({"host": "compute-2", "binary": "nova-compute", "forced_down": true})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"service": {"host": "compute-2", "binary": "nova-compute", "forced_down": true}})
    );
    assert!(d.service("compute-2").unwrap().forced_down);
    let r = nova.call(
        "PUT",
        "/os-services/force-down",
        "2.10",
        Some(&json!({"host": "compute-2", "binary": "nova-compute", "forced_down": false})),
    );
    assert_eq!(r.status, 404);
    let r = nova.call(
        "PUT",
        "/os-services/disable-log-reason",
        "2.11",
        Some(&json!({"host": "compute-2", "binary": "nova-compute", "disabled_reason": "r"})),
    );
    assert_eq!(r.json()["service"]["status"], "disabled");
    let r = nova.call(
        "PUT",
        "/os-services/enable",
        "2.11",
        Some(&json!({"host": "compute-2", "binary": "nova-compute"})),
    );
    assert_eq!(r.json()["service"]["status"], "enabled");
    assert_eq!(d.service("compute-2").unwrap().status, "enabled");
    let r = nova.call(
        "PUT",
        "/os-services/force-down",
        "2.53",
        Some(&json!({"host": "compute-2", "binary": "nova-compute", "forced_down": true})),
    );
    assert_eq!(r.status, 400);
}

#[test]
fn evacuate_microversion_rules_and_still_in_use() {
    let d = Double::start(Config::new());
    let nova = Nova::login(&d);
    let id = d.add_server(ServerSpec::new("vm1", "compute-0"));
    let path = format!("/servers/{id}/action");
    // source still up
    let r = nova.call("POST", &path, "2.14", Some(&json!({"evacuate": {}})));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["badRequest"]["message"],
        "Compute service of compute-0 is still in use."
    );
    // < 2.14: onSharedStorage required
    let r = nova.call("POST", &path, "2.11", Some(&json!({"evacuate": {}})));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["badRequest"]["message"],
        "Invalid input for field/attribute evacuate. Value: {}. 'onSharedStorage' is a required property"
    );
    // >= 2.14: rejected
    let r = nova.call(
        "POST",
        &path,
        "2.14",
        Some(&json!({"evacuate": {"onSharedStorage": false}})),
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("Additional properties are not allowed ('onSharedStorage' was unexpected)"));
    // force removed in 2.68
    let r = nova.call(
        "POST",
        &path,
        "2.68",
        Some(&json!({"evacuate": {"host": "compute-1", "force": true}})),
    );
    assert_eq!(r.status, 400);
    // unknown target host
    d.set_compute_alive("compute-0", false);
    let r = nova.call(
        "POST",
        &path,
        "2.29",
        Some(&json!({"evacuate": {"host": "nope"}})),
    );
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["itemNotFound"]["message"],
        "Compute host nope not found."
    );
    // accepted at 2.11 with onSharedStorage: adminPass body
    let r = nova.call(
        "POST",
        &path,
        "2.11",
        Some(&json!({"evacuate": {"onSharedStorage": "False"}})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["adminPass"].is_string());
    let s = d.server(&id).unwrap();
    assert_eq!(
        (s.status.as_str(), s.task_state.as_deref()),
        ("REBUILD", Some("rebuilding"))
    );
    assert_eq!(s.host.as_deref(), Some("compute-0"));
    // second evacuate while rebuilding: 409
    let r = nova.call("POST", &path, "2.14", Some(&json!({"evacuate": {}})));
    assert_eq!(r.status, 409);
    assert_eq!(
        r.json()["conflictingRequest"]["message"],
        format!("Cannot 'evacuate' instance {id} while it is in task_state rebuilding")
    );
    assert_eq!(d.evacuate_requests(&id), 7);
    let migs = d.migrations();
    assert_eq!(migs.len(), 1);
    assert_eq!(migs[0].status, "accepted");
    assert_eq!(migs[0].microversion, "2.11");
}

#[test]
fn evacuation_completes_keeping_power_state_and_shutoff_from_2_95() {
    let d = Double::start(Config::new().evacuation_time(Duration::from_millis(100)));
    let nova = Nova::login(&d);
    let active = d.add_server(ServerSpec::new("a", "compute-0"));
    let off = d.add_server(ServerSpec::new("b", "compute-0").status("SHUTOFF"));
    let err = d.add_server(ServerSpec::new("c", "compute-0").status("ERROR"));
    let late = d.add_server(ServerSpec::new("d", "compute-0"));
    let shelved = d.add_server(ServerSpec::new("e", "compute-0").status("SHELVED_OFFLOADED"));
    d.set_compute_alive("compute-0", false);
    for s in [&active, &off, &err] {
        let r = nova.call(
            "POST",
            &format!("/servers/{s}/action"),
            "2.29",
            Some(&json!({"evacuate": {}})),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body, "");
    }
    let r = nova.call(
        "POST",
        &format!("/servers/{late}/action"),
        "2.95",
        Some(&json!({"evacuate": {"host": "compute-2"}})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = nova.call(
        "POST",
        &format!("/servers/{shelved}/action"),
        "2.95",
        Some(&json!({"evacuate": {}})),
    );
    assert_eq!(r.status, 409);
    wait_until("evacuations", Duration::from_secs(5), || {
        d.pending_evacuations() == 0
    });
    let a = d.server(&active).unwrap();
    assert_eq!((a.status.as_str(), a.power_state), ("ACTIVE", 1));
    assert_ne!(a.host.as_deref(), Some("compute-0"));
    assert_eq!(d.server(&off).unwrap().status, "SHUTOFF");
    assert_eq!(d.server(&err).unwrap().status, "ACTIVE");
    let l = d.server(&late).unwrap();
    assert_eq!(
        (l.status.as_str(), l.host.as_deref()),
        ("SHUTOFF", Some("compute-2"))
    );
    // spread over the two remaining hosts
    let hosts: std::collections::BTreeSet<_> = [&active, &off, &err]
        .iter()
        .map(|i| d.server(i).unwrap().host.unwrap())
        .collect();
    assert_eq!(hosts.len(), 2);
    // API view of the server and migrations
    let v = nova.get(&format!("/servers/{late}"), "2.47").json();
    assert_eq!(v["server"]["OS-EXT-SRV-ATTR:host"], "compute-2");
    assert_eq!(v["server"]["OS-EXT-STS:vm_state"], "stopped");
    assert_eq!(v["server"]["OS-EXT-STS:power_state"], 4);
    assert_eq!(v["server"]["flavor"]["original_name"], "m1.small");
    assert_eq!(v["server"]["image"], "");
    let r = nova.call(
        "POST",
        &format!("/servers/{late}/action"),
        "2.95",
        Some(&json!({"os-start": null})),
    );
    assert_eq!(r.status, 202);
    assert_eq!(d.server(&late).unwrap().status, "ACTIVE");
    let m = nova
        .get(
            &format!("/os-migrations?migration_type=evacuation&source_compute=compute-0&instance_uuid={late}"),
            "2.59",
        )
        .json();
    let list = m["migrations"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["status"], "done");
    assert_eq!(list[0]["dest_compute"], "compute-2");
    assert_eq!(list[0]["migration_type"], "evacuation");
    assert_eq!(list[0]["uuid"].as_str().unwrap().len(), 36);
    assert_eq!(
        nova.get("/os-migrations", "2.1").json()["migrations"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn force_up_refused_until_compute_restarts() {
    let d = Double::start(Config::new().evacuation_time(Duration::from_millis(20)));
    let nova = Nova::login(&d);
    let vm = d.add_server(ServerSpec::new("a", "compute-0"));
    d.set_compute_alive("compute-0", false);
    let id = service_uuid(&nova, "compute-0");
    assert_eq!(
        nova.call(
            "PUT",
            &format!("/os-services/{id}"),
            "2.53",
            Some(&json!({"forced_down": true}))
        )
        .status,
        200
    );
    let r = nova.call(
        "POST",
        &format!("/servers/{vm}/action"),
        "2.53",
        Some(&json!({"evacuate": {}})),
    );
    assert_eq!(r.status, 200);
    wait_until("done", Duration::from_secs(5), || {
        d.migrations()[0].status == "done"
    });
    let r = nova.call(
        "PUT",
        &format!("/os-services/{id}"),
        "2.53",
        Some(&json!({"forced_down": false})),
    );
    assert_eq!(r.status, 400);
    let msg = r.json()["badRequest"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("`done` evacuation migration records remain associated with the host"),
        "{msg}"
    );
    // legacy API too
    let r = nova.call(
        "PUT",
        "/os-services/force-down",
        "2.11",
        Some(&json!({"host": "compute-0", "binary": "nova-compute", "forced_down": false})),
    );
    assert_eq!(r.status, 400);
    d.restart_compute("compute-0");
    assert_eq!(d.migrations()[0].status, "completed");
    // alive but still forced down
    assert_eq!(d.service("compute-0").unwrap().state, "down");
    let r = nova.call(
        "PUT",
        &format!("/os-services/{id}"),
        "2.53",
        Some(&json!({"forced_down": false})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["service"]["state"], "up");
}

#[test]
fn failed_evacuation_and_scheduling_error() {
    let d = Double::start(
        Config::new()
            .hosts(["c0", "c1"])
            .evacuation_time(Duration::from_millis(20)),
    );
    let nova = Nova::login(&d);
    let vm = d.add_server(ServerSpec::new("a", "c0"));
    d.set_compute_alive("c0", false);
    d.fail_next_evacuations(&vm, 1);
    let path = format!("/servers/{vm}/action");
    assert_eq!(
        nova.call("POST", &path, "2.95", Some(&json!({"evacuate": {}})))
            .status,
        200
    );
    wait_until("failed", Duration::from_secs(5), || {
        d.pending_evacuations() == 0
    });
    let s = d.server(&vm).unwrap();
    assert_eq!(
        (s.status.as_str(), s.host.as_deref()),
        ("ERROR", Some("c0"))
    );
    assert_eq!(d.migrations()[0].status, "failed");
    // ERROR servers can be evacuated again; target down -> NoValidHost
    d.set_compute_alive("c1", false);
    assert_eq!(
        nova.call("POST", &path, "2.95", Some(&json!({"evacuate": {}})))
            .status,
        200
    );
    wait_until("error", Duration::from_secs(5), || {
        d.pending_evacuations() == 0
    });
    assert_eq!(d.migrations()[1].status, "error");
    assert_eq!(d.server(&vm).unwrap().task_state, None);
    d.set_compute_alive("c1", true);
    assert_eq!(
        nova.call(
            "POST",
            &path,
            "2.95",
            Some(&json!({"evacuate": {"host": "c1"}}))
        )
        .status,
        200
    );
    wait_until("done", Duration::from_secs(5), || {
        d.pending_evacuations() == 0
    });
    let s = d.server(&vm).unwrap();
    assert_eq!(
        (s.status.as_str(), s.host.as_deref()),
        ("SHUTOFF", Some("c1"))
    );
}

#[test]
fn serial_per_destination() {
    let d = Double::start(
        Config::new()
            .hosts(["c0", "c1"])
            .evacuation_time(Duration::from_millis(100))
            .serial_per_destination(true),
    );
    let nova = Nova::login(&d);
    let ids: Vec<String> = (0..4)
        .map(|i| d.add_server(ServerSpec::new(&format!("v{i}"), "c0")))
        .collect();
    d.set_compute_alive("c0", false);
    let t0 = Instant::now();
    for id in &ids {
        assert_eq!(
            nova.call(
                "POST",
                &format!("/servers/{id}/action"),
                "2.29",
                Some(&json!({"evacuate": {}}))
            )
            .status,
            200
        );
    }
    wait_until("first", Duration::from_secs(5), || {
        d.server(&ids[0]).unwrap().status == "ACTIVE"
    });
    assert_eq!(d.server(&ids[3]).unwrap().status, "REBUILD");
    wait_until("all", Duration::from_secs(5), || {
        d.pending_evacuations() == 0
    });
    assert!(t0.elapsed() >= Duration::from_millis(400));
}

#[test]
fn servers_paging_flavors_and_images() {
    let d = Double::start(Config::new().max_limit(3));
    let nova = Nova::login(&d);
    d.add_image("img-1", &["evacuable"], &[("os_distro", "cirros")]);
    for i in 0..7 {
        let mut s = ServerSpec::new(&format!("v{i}"), "compute-1")
            .flavor("ha")
            .extra_spec("evacuable", "true")
            .private_flavor();
        if i == 0 {
            s = s.image("img-1").metadata("evacuable", "true");
        }
        d.add_server(s);
    }
    d.add_server(ServerSpec::new("other", "compute-2"));
    // without all_tenants: the admin project owns none
    assert_eq!(
        nova.get("/servers/detail?host=compute-1", "2.1").json()["servers"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let mut url = format!(
        "{}/servers/detail?all_tenants=1&host=compute-1",
        d.compute_url()
    );
    let mut seen = Vec::new();
    loop {
        let r = request(
            "GET",
            &url,
            &[
                ("X-Auth-Token", &nova.token),
                ("OpenStack-API-Version", "compute 2.53"),
            ],
            None,
        )
        .json();
        for s in r["servers"].as_array().unwrap() {
            assert_eq!(s["OS-EXT-SRV-ATTR:host"], "compute-1");
            assert_eq!(s["flavor"]["id"], s["flavor"]["id"]);
            seen.push(s["name"].as_str().unwrap().to_string());
        }
        match r["servers_links"][0]["href"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    assert_eq!(seen[0], "v6");
    let first = nova
        .get(
            "/servers/detail?all_tenants=1&host=compute-1&limit=1",
            "2.46",
        )
        .json();
    assert!(first["servers"][0]["flavor"]["id"].is_string());
    // flavors: private listed with is_public=None
    let fl = nova.get("/flavors/detail?is_public=None", "2.53").json();
    let ha = fl["flavors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "ha")
        .unwrap()
        .clone();
    assert_eq!(ha["os-flavor-access:is_public"], false);
    assert_eq!(
        nova.get("/flavors/detail", "2.53").json()["flavors"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let fid = ha["id"].as_str().unwrap();
    let es = nova
        .get(&format!("/flavors/{fid}/os-extra_specs"), "2.1")
        .json();
    assert_eq!(es, json!({"extra_specs": {"evacuable": "true"}}));
    // glance
    let img = request(
        "GET",
        &format!("{}/v2/images/img-1", d.image_url()),
        &[("X-Auth-Token", &nova.token)],
        None,
    );
    assert_eq!(img.status, 200);
    assert_eq!(img.json()["tags"], json!(["evacuable"]));
    assert_eq!(img.json()["os_distro"], "cirros");
    let none = request(
        "GET",
        &format!("{}/v2/images/nope", d.image_url()),
        &[("X-Auth-Token", &nova.token)],
        None,
    );
    assert_eq!(none.status, 404);
    let hv = nova.get("/os-hypervisors/detail", "2.53").json();
    assert_eq!(hv["hypervisors"].as_array().unwrap().len(), 3);
}

#[test]
fn injected_errors_and_request_log() {
    let d = Double::start(Config::new());
    let nova = Nova::login(&d);
    d.inject_error("GET", "/compute/v2.1/os-services", 503, 2);
    assert_eq!(nova.get("/os-services", "2.53").status, 503);
    let r = nova.get("/os-services", "2.53");
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["serviceUnavailable"]["code"], 503);
    assert_eq!(nova.get("/os-services", "2.53").status, 200);
    d.inject_delay("*", "/compute", Duration::from_millis(300), 1);
    let t = Instant::now();
    assert_eq!(nova.get("/os-services", "2.53").status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    let log = d.requests();
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[1].microversion.as_deref(), Some("2.53"));
    assert_eq!(log[1].query, "");
}

#[test]
fn concurrent_requests_finish_in_about_one_latency() {
    let latency = Duration::from_millis(200);
    let d = Double::start(Config::new().latency(latency));
    let nova = Nova::login(&d);
    let t = Instant::now();
    let handles: Vec<_> = (0..64)
        .map(|_| {
            let url = format!("{}/os-services?binary=nova-compute", d.compute_url());
            let token = nova.token.clone();
            std::thread::spawn(move || {
                request(
                    "GET",
                    &url,
                    &[
                        ("X-Auth-Token", &token),
                        ("OpenStack-API-Version", "compute 2.53"),
                    ],
                    None,
                )
                .status
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 200);
    }
    let took = t.elapsed();
    assert!(took >= latency);
    assert!(took < latency * 4, "64 parallel requests took {took:?}");
}

/// Regression (tiny_http 0.12's TaskPool, see examples/tiny_http_stall.rs):
/// a burst of keep-alive connections that all stay open is served, every
/// one of them, and each serves several requests in order.
#[test]
fn a_burst_of_keep_alive_connections_is_served() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    let d = Double::start(Config::new());
    let port = d.port();
    let n = 24;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(n));
    let socks: Vec<TcpStream> = (0..n)
        .map(|_| {
            let b = barrier.clone();
            std::thread::spawn(move || {
                b.wait();
                TcpStream::connect(("127.0.0.1", port)).unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    for round in 0..3 {
        for s in &socks {
            (&*s)
                .write_all(b"GET /identity/v3 HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
        }
        for (i, s) in socks.iter().enumerate() {
            // Liveness bound, not a timing: tiny_http never answered some.
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut r = BufReader::new(s);
            let mut status = String::new();
            r.read_line(&mut status)
                .unwrap_or_else(|e| panic!("connection {i}, request {round}: no answer: {e}"));
            assert!(status.starts_with("HTTP/1.1 200"), "{status}");
            let mut len = 0;
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
        }
    }
    assert_eq!(
        d.connections_accepted(),
        n as u64,
        "keep-alive: one connection per client"
    );
}
