#!/usr/bin/env python3
"""Small Nova/Glance REST helper for the harness (adapted from the shared
lab's osapi.py).  One Python process instead of many `openstack` CLI calls:
each CLI call costs 1-2 s of interpreter start-up on a 2-core box.

usage (admin credentials from OS_* env, see `openstack.sh env`):
  iha-os.py prepare                    flavor iha.tiny + image iha-fake (if missing)
  iha-os.py boot N [--host H] [--prefix P] [--timeout S]
                                       boot N servers (networks none) in one
                                       multi-create request, wait ACTIVE
  iha-os.py wait-services N [--since UNIXTIME] [--timeout S]
                                       wait until >= N nova services are enabled+up
                                       (with a heartbeat newer than UNIXTIME)
  iha-os.py wait-compute HOST [--state up|down] [--since UNIXTIME] [--timeout S]
  iha-os.py status                     servers per host/state, compute services
Exit status 1 on timeout / ERROR servers.
"""
import argparse
import collections
import datetime
import os
import sys
import time

from keystoneauth1 import adapter, session
from keystoneauth1.identity import v3

E = os.environ
S = session.Session(auth=v3.Password(
    auth_url=E["OS_AUTH_URL"], username=E["OS_USERNAME"], password=E["OS_PASSWORD"],
    project_name=E["OS_PROJECT_NAME"], user_domain_name="Default",
    project_domain_name="Default"))
REGION = E.get("OS_REGION_NAME", "RegionOne")
FLAVOR, IMAGE = "iha.tiny", "iha-fake"


def nova(mv="2.74"):   # 2.74: "host" in POST /servers (pin to a compute)
    return adapter.Adapter(S, service_type="compute", interface="public",
                           region_name=REGION, default_microversion=mv)


def glance():
    return adapter.Adapter(S, service_type="image", interface="public", region_name=REGION)


def cmd_prepare(a):
    n, g = nova(), glance()
    if not [f for f in n.get("/flavors").json()["flavors"] if f["name"] == FLAVOR]:
        n.post("/flavors", json={"flavor": {"name": FLAVOR, "ram": 64, "vcpus": 1, "disk": 1}})
        print("flavor", FLAVOR, "created")
    imgs = g.get(f"/v2/images?name={IMAGE}").json()["images"]
    if not imgs or imgs[0]["status"] != "active":
        for i in imgs:     # half-uploaded leftovers
            g.delete(f"/v2/images/{i['id']}", raise_exc=False)
        img = g.post("/v2/images", json={"name": IMAGE, "disk_format": "raw",
                                         "container_format": "bare", "visibility": "public"}).json()
        # the fake virt driver never reads the bits
        g.put(f"/v2/images/{img['id']}/file", data=os.urandom(64 * 1024),
              headers={"Content-Type": "application/octet-stream"})
        print("image", IMAGE, "uploaded", img["id"])


def servers(n, **q):
    qs = "&".join(f"{k}={v}" for k, v in q.items())
    return n.get(f"/servers/detail?all_tenants=1&limit=1000&{qs}").json()["servers"]


def boot_once(n, count, a, flavor, image, t0):
    """One multi-create request of `count` servers; waits until each is
    ACTIVE or ERROR and returns {id: server}."""
    body = {"server": {"name": a.prefix, "flavorRef": flavor, "imageRef": image,
                       "networks": "none", "min_count": count, "max_count": count,
                       "return_reservation_id": True}}
    if a.host:
        body["server"]["host"] = a.host
    started = time.monotonic()
    resv = n.post("/servers", json=body).json()["reservation_id"]
    while True:
        ids = [s["id"] for s in servers(n, reservation_id=resv)]
        if len(ids) >= count:
            break
        time.sleep(0.3)
    last = None
    while True:
        by = {s["id"]: s for s in servers(n, reservation_id=resv)}
        st = collections.Counter(by[i]["status"] for i in ids if i in by)
        if st != last:
            print(f"  {time.monotonic() - t0:5.1f}s {dict(st)}", flush=True)
            last = st
        if st["ACTIVE"] + st["ERROR"] >= count:
            return {i: by[i] for i in ids}
        if time.monotonic() - started > a.timeout:
            sys.exit(f"timeout: {dict(st)}")
        time.sleep(1)   # each /servers/detail costs nova-api CPU: don't poll harder


def cmd_boot(a):
    """Boot `count` ACTIVE servers. A compute just put back in service can
    refuse for a moment (placement's COMPUTE_STATUS_DISABLED trait is cleared
    asynchronously; the demo once ran on 6 ERROR servers with no host):
    servers that went ERROR are deleted and booted again, up to --tries
    times, 15 s apart. Prints "id STATUS host" per server; exit 1 unless all
    are ACTIVE."""
    cmd_prepare(a)
    n = nova()
    flavor = [f for f in n.get("/flavors").json()["flavors"] if f["name"] == FLAVOR][0]["id"]
    image = glance().get(f"/v2/images?name={IMAGE}").json()["images"][0]["id"]
    t0 = time.monotonic()
    active, errors = {}, {}
    for attempt in range(a.tries):
        got = boot_once(n, a.count - len(active), a, flavor, image, t0)
        active.update({i: s for i, s in got.items() if s["status"] == "ACTIVE"})
        errors = {i: s for i, s in got.items() if s["status"] != "ACTIVE"}
        if len(active) >= a.count or attempt == a.tries - 1:
            break
        print(f"  {len(errors)} ERROR (try {attempt + 1}): deleting them, booting again in 15 s", flush=True)
        for i in errors:
            n.delete(f"/servers/{i}", raise_exc=False)
        while any(s["id"] in errors for s in servers(n)):
            time.sleep(1)
        time.sleep(15)
    for i, s in list(active.items()) + list(errors.items()):
        print(i, s["status"], s.get("OS-EXT-SRV-ATTR:host"))
    print(f"TIMING boot(n={a.count}) {time.monotonic() - t0:.1f}")
    if len(active) < a.count:
        sys.exit(1)


def services():
    return nova().get("/os-services").json()["services"]


def fresh(svc, since):
    """heartbeat newer than `since` (unix time): right after a restart the
    services still look "up" from the previous run's last heartbeat"""
    if not since:
        return True
    t = svc.get("updated_at")
    if not t:
        return False
    ts = datetime.datetime.fromisoformat(t.split(".")[0]).replace(tzinfo=datetime.timezone.utc)
    return ts.timestamp() >= since


def cmd_wait_services(a):
    t0 = time.monotonic()
    while True:
        try:
            ok = [s for s in services() if s["status"] == "enabled" and s["state"] == "up"
                  and fresh(s, a.since)]
        except Exception as e:  # API still starting
            ok = []
            err = e
        if len(ok) >= a.count:
            print(f"{len(ok)} nova services up after {time.monotonic() - t0:.1f}s")
            return
        if time.monotonic() - t0 > a.timeout:
            for s in services():
                print(s["binary"], s["host"], s["status"], s["state"])
            sys.exit(f"timeout: {len(ok)}/{a.count} services up")
        time.sleep(1)


def cmd_wait_compute(a):
    t0 = time.monotonic()
    while True:
        sv = [s for s in services() if s["binary"] == "nova-compute" and s["host"] == a.host]
        if sv and sv[0]["state"] == a.state and (a.state == "down" or fresh(sv[0], a.since)):
            print(f"{a.host} {a.state} after {time.monotonic() - t0:.1f}s")
            return
        if time.monotonic() - t0 > a.timeout:
            sys.exit(f"timeout: {sv}")
        time.sleep(1)


def cmd_status(a):
    n = nova()
    c = collections.Counter((s["OS-EXT-SRV-ATTR:host"], s["status"]) for s in servers(n))
    for (h, st), k in sorted(c.items(), key=lambda x: (str(x[0][0]), x[0][1])):
        print(f"servers host={h} status={st}: {k}")
    for s in services():
        print(f"service {s['binary']} {s['host']}: {s['status']} {s['state']}"
              f" forced_down={s.get('forced_down')}")


def main():
    p = argparse.ArgumentParser()
    sp = p.add_subparsers(dest="cmd", required=True)
    sp.add_parser("prepare")
    b = sp.add_parser("boot")
    b.add_argument("count", type=int)
    b.add_argument("--host")
    b.add_argument("--prefix", default="vm")
    b.add_argument("--timeout", type=float, default=300)
    b.add_argument("--tries", type=int, default=4)
    w = sp.add_parser("wait-services")
    w.add_argument("count", type=int)
    w.add_argument("--timeout", type=float, default=240)
    w.add_argument("--since", type=float, default=0, help="unix time the heartbeats must be newer than")
    wc = sp.add_parser("wait-compute")
    wc.add_argument("host")
    wc.add_argument("--state", default="up", choices=["up", "down"])
    wc.add_argument("--timeout", type=float, default=120)
    wc.add_argument("--since", type=float, default=0, help="up: heartbeat newer than this unix time")
    sp.add_parser("status")
    a = p.parse_args()
    {"prepare": cmd_prepare, "boot": cmd_boot, "wait-services": cmd_wait_services,
     "wait-compute": cmd_wait_compute, "status": cmd_status}[a.cmd](a)


if __name__ == "__main__":
    main()
