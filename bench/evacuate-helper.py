#!/usr/bin/env python3
"""Helper for bench/evacuate.sh (runs in the lab's venv, admin OS_* env).

  evacuate-helper.py ids HOST            server ids on HOST, one per line
  evacuate-helper.py all-at-once HOST    POST evacuate for every server of HOST at
                                         once (one thread each), microversion 2.94:
                                         Nova's own limit, the reference point
  evacuate-helper.py wait-moved HOST IDS_FILE [TIMEOUT]
                                         until every id is ACTIVE/SHUTOFF elsewhere
  evacuate-helper.py wait-accepted HOST IDS_FILE SINCE_EPOCH [TIMEOUT]
                                         until Nova holds an evacuation record (made
                                         when it accepts the request) for every id;
                                         polls every 0.1 s
  evacuate-helper.py where HOST IDS_FILE     how many of the ids each host holds
  evacuate-helper.py delete-all HOST     delete every server (waits until gone), so
                                         that each mode starts from the same cloud
"""
import datetime
import os
import sys
import threading
import time

from keystoneauth1 import adapter, session
from keystoneauth1.identity import v3

E = os.environ
S = session.Session(auth=v3.Password(
    auth_url=E["OS_AUTH_URL"], username=E["OS_USERNAME"], password=E["OS_PASSWORD"],
    project_name=E["OS_PROJECT_NAME"], user_domain_name="Default", project_domain_name="Default"))
NOVA = adapter.Adapter(S, service_type="compute", interface="public",
                       region_name=E.get("OS_REGION_NAME", "RegionOne"), default_microversion="2.94")


def servers(host):
    return NOVA.get(f"/servers/detail?all_tenants=1&host={host}").json()["servers"]


cmd, host = sys.argv[1], sys.argv[2]
if cmd == "ids":
    for s in servers(host):
        print(s["id"])
elif cmd == "all-at-once":
    ids = [s["id"] for s in servers(host)]
    errors = []

    def one(i):
        try:
            NOVA.post(f"/servers/{i}/action", json={"evacuate": {}})
        except Exception as e:  # noqa: BLE001
            errors.append(f"{i}: {e}")
    threads = [threading.Thread(target=one, args=(i,)) for i in ids]
    [t.start() for t in threads]
    [t.join() for t in threads]
    if errors:
        sys.exit("\n".join(errors))
elif cmd == "wait-accepted":
    ids = set(open(sys.argv[3]).read().split())
    since = float(sys.argv[4])
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 600
    t = time.time()
    seen = set()
    while time.time() - t < timeout:
        for m in NOVA.get(f"/os-migrations?source_compute={host}&migration_type=evacuation",
                          microversion="2.59").json()["migrations"]:
            created = datetime.datetime.fromisoformat(m["created_at"]).replace(tzinfo=datetime.timezone.utc)
            if m["instance_uuid"] in ids and created.timestamp() >= since - 1:
                seen.add(m["instance_uuid"])
        if seen >= ids:
            sys.exit(0)
        time.sleep(0.1)
    sys.exit(f"timeout: {len(seen)}/{len(ids)} accepted")
elif cmd == "where":
    # Where the servers went: Nova's destination computes rebuild one at a
    # time, so the split decides "all elsewhere" more than the client does.
    ids = set(open(sys.argv[3]).read().split())
    count = {}
    for s in NOVA.get("/servers/detail?all_tenants=1").json()["servers"]:
        if s["id"] in ids:
            h = s.get("OS-EXT-SRV-ATTR:host")
            count[h] = count.get(h, 0) + 1
    print(" ".join(f"{h}:{n}" for h, n in sorted(count.items(), key=lambda x: str(x[0]))))
elif cmd == "delete-all":
    def every():
        return [s["id"] for s in NOVA.get("/servers/detail?all_tenants=1").json()["servers"]]
    for i in every():
        NOVA.delete(f"/servers/{i}", raise_exc=False)
    t = time.time()
    while every() and time.time() - t < 300:
        time.sleep(1)
    if every():
        sys.exit("servers left after 300 s")
elif cmd == "wait-moved":
    ids = set(open(sys.argv[3]).read().split())
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 1200
    t = time.time()
    while time.time() - t < timeout:
        done = 0
        for s in NOVA.get("/servers/detail?all_tenants=1").json()["servers"]:
            if s["id"] in ids and s.get("OS-EXT-SRV-ATTR:host") != host \
                    and s["status"] in ("ACTIVE", "SHUTOFF") and not s.get("OS-EXT-STS:task_state"):
                done += 1
        if done == len(ids):
            sys.exit(0)
        time.sleep(1)
    sys.exit(f"timeout: {done}/{len(ids)} moved")
