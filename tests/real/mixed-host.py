#!/usr/bin/env python3
"""Boot the mixed host of issue 3's acceptance test on real Nova, fast (one
Python process, multi-create requests) and print what each server should
become, as JSON on stdout.

usage (admin OS_* env, see tests/harness/openstack.sh env):
  mixed-host.py HOST

On HOST:
  gold-N       private flavor iha.gold (extra spec evacuable=true)   ACTIVE x6, SHUTOFF x3
  tagimg-N     image iha-evac (Glance tag evacuable)                 ACTIVE x4, SHUTOFF x2
  propimg-N    image iha-prop (property evacuable=true)              ACTIVE x1
  plain-N      flavor iha.tiny, image iha-fake (untagged)            ACTIVE x3, SHUTOFF x1
  broken       iha.gold, reset to ERROR                              x1
Expected with the reference policy (something is tagged -> tagged only,
ERROR skipped): gold/tagimg/propimg move and keep their power state,
plain-* and broken stay.
"""
import json
import os
import sys
import time

from keystoneauth1 import adapter, session
from keystoneauth1.identity import v3

E = os.environ
S = session.Session(auth=v3.Password(
    auth_url=E["OS_AUTH_URL"], username=E["OS_USERNAME"], password=E["OS_PASSWORD"],
    project_name=E["OS_PROJECT_NAME"], user_domain_name="Default", project_domain_name="Default"))
REGION = E.get("OS_REGION_NAME", "RegionOne")
NOVA = adapter.Adapter(S, service_type="compute", interface="public", region_name=REGION, default_microversion="2.74")
GLANCE = adapter.Adapter(S, service_type="image", interface="public", region_name=REGION)


def flavor(name, public, specs):
    """Create or complete the flavor: extra specs and access are ensured
    every time (a flavor left by an interrupted run must not lack them)."""
    fid = None
    for f in NOVA.get("/flavors/detail?is_public=None").json()["flavors"]:
        if f["name"] == name:
            fid = f["id"]
    if fid is None:
        fid = NOVA.post("/flavors", json={"flavor": {"name": name, "ram": 64, "vcpus": 1, "disk": 1,
                                                     "os-flavor-access:is_public": public}}).json()["flavor"]["id"]
    if not public:
        # A private flavor is only usable by projects given access
        # (real Nova even answers 404 to extra spec changes without it).
        access = NOVA.get(f"/flavors/{fid}/os-flavor-access").json()["flavor_access"]
        if not any(a["tenant_id"] == S.get_project_id() for a in access):
            NOVA.post(f"/flavors/{fid}/action", json={"addTenantAccess": {"tenant": S.get_project_id()}})
    if specs:
        NOVA.post(f"/flavors/{fid}/os-extra_specs", json={"extra_specs": specs})
        got = NOVA.get(f"/flavors/{fid}/os-extra_specs").json()["extra_specs"]
        assert all(got.get(k) == v for k, v in specs.items()), got
    return fid


def image(name, tags=(), props=None):
    found = GLANCE.get(f"/v2/images?name={name}").json()["images"]
    if found:
        return found[0]["id"]
    body = {"name": name, "disk_format": "raw", "container_format": "bare", "visibility": "public"}
    body.update(props or {})
    i = GLANCE.post("/v2/images", json=body).json()
    GLANCE.put(f"/v2/images/{i['id']}/file", data=os.urandom(4096),
               headers={"Content-Type": "application/octet-stream"})
    for t in tags:
        GLANCE.put(f"/v2/images/{i['id']}/tags/{t}")
    return i["id"]


def boot(prefix, n, host, flavor_id, image_id):
    body = {"server": {"name": prefix, "flavorRef": flavor_id, "imageRef": image_id, "networks": "none",
                       "min_count": n, "max_count": n, "host": host}}
    NOVA.post("/servers", json=body)


def servers(host):
    return NOVA.get(f"/servers/detail?all_tenants=1&host={host}").json()["servers"]


def wait(pred, what, timeout=300):
    t = time.time()
    while time.time() - t < timeout:
        if pred():
            return
        time.sleep(1)
    sys.exit(f"timeout waiting for {what}")


def main():
    host = sys.argv[1]
    tag = os.urandom(2).hex()        # this run's servers only
    tiny = flavor("iha.tiny", True, None)
    gold = flavor("iha.gold", False, {"evacuable": "true"})
    plain_img = image("iha-fake")
    tag_img = image("iha-evac", tags=["evacuable"])
    prop_img = image("iha-prop", props={"evacuable": "true"})
    plan = [("gold", 9, gold, plain_img), ("tagimg", 6, tiny, tag_img), ("propimg", 1, tiny, prop_img),
            ("plain", 4, tiny, plain_img), ("broken", 1, gold, plain_img)]
    for group, n, f, i in plan:
        boot(f"{group}-{tag}", n, host, f, i)
    total = sum(p[1] for p in plan)

    def mine():
        return [s for s in servers(host) if s["name"].split("-")[1:2] == [tag]]

    wait(lambda: sum(1 for s in mine() if s["status"] == "ACTIVE") >= total, f"{total} ACTIVE on {host}")
    by_group = {}
    for s in mine():
        by_group.setdefault(s["name"].split("-")[0], []).append(s)
    stop = by_group["gold"][:3] + by_group["tagimg"][:2] + by_group["plain"][:1]
    for s in stop:
        NOVA.post(f"/servers/{s['id']}/action", json={"os-stop": None})
    NOVA.post(f"/servers/{by_group['broken'][0]['id']}/action", json={"os-resetState": {"state": "error"}})
    stopped = {s["id"] for s in stop}
    wait(lambda: all(s["status"] == "SHUTOFF" for s in mine() if s["id"] in stopped), "stops")
    wait(lambda: any(s["status"] == "ERROR" for s in mine()), "reset to ERROR")
    out = []
    for s in mine():
        group = s["name"].split("-")[0]
        out.append({"id": s["id"], "name": s["name"], "status": s["status"],
                    "move": group in ("gold", "tagimg", "propimg") and s["status"] != "ERROR"})
    json.dump(out, sys.stdout)


main()
