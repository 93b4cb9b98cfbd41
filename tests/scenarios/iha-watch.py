#!/usr/bin/env python3
"""Watch a compute failure from the outside, live, and record what happened.

Used by tests/scenarios/run.sh (assertions) and demo/run.sh (the live view).
Run with the OpenStack venv's python and the OS_* admin variables set.

  iha-watch.py snapshot HOST... > FILE
      the servers now on HOST(s): id, name, status, host (JSON)
  iha-watch.py watch --snapshot FILE --hosts "H1 H2" --until evacuated|back
               [--timeout S] [--t0 EPOCH] [--access-log PATH --offset BYTES]
               [--ctl "ctl1 ctl2"] [--pcmk PATH] [--json OUT] [--quiet]
      polls Nova (services, servers), Pacemaker (crm_mon, fencing history),
      nova-api's access log and the hosts' nova-compute processes once a
      second and prints every change as "[+12.3s] ..." lines. Ends when every
      server of the snapshot runs on another host in its original state
      (evacuated), and with --until back also when every host is back in
      service (up, enabled, not forced down, nova-compute started by
      Pacemaker). Exit 0 when reached, 1 on timeout or on a violation:
      a server in ERROR, or a host's nova-compute running while that host's
      evacuation was not over.
      --json OUT: phase times (seconds after t0), evacuate POSTs per server,
      violations.
  iha-watch.py migrations FILE --since EPOCH
      evacuation migration records per server of FILE created since EPOCH
      (JSON {id: [status,...]})
  iha-watch.py fenced-first HOST --since EPOCH
      exit 0 if HOST's first evacuate request (NovaEvacuate's line) is stamped
      after its fencing (fence_compute's "fenced in Nova"), both since EPOCH
  iha-watch.py stop ID...    stop servers and wait until SHUTOFF
  iha-watch.py delete FILE   delete the servers of FILE (no wait)
  iha-watch.py settle HOST... [--timeout S]
      wait until every HOST's service is up, enabled, not forced down, without
      an open instance-ha record
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import time

from keystoneauth1 import adapter, session
from keystoneauth1.identity import v3

E = os.environ
S = session.Session(auth=v3.Password(
    auth_url=E["OS_AUTH_URL"], username=E["OS_USERNAME"], password=E["OS_PASSWORD"],
    project_name=E["OS_PROJECT_NAME"], user_domain_name="Default", project_domain_name="Default"))
NOVA = adapter.Adapter(S, service_type="compute", interface="public",
                       region_name=E.get("OS_REGION_NAME", "RegionOne"), default_microversion="2.59")
RUN = E.get("IHA_RUN", "/run/iha-lab")


def servers(host=None):
    q = "all_tenants=1&limit=1000" + (f"&host={host}" if host else "")
    return NOVA.get(f"/servers/detail?{q}").json()["servers"]


def brief(s):
    return {"id": s["id"], "name": s["name"], "status": s["status"],
            "host": s.get("OS-EXT-SRV-ATTR:host"), "task": s.get("OS-EXT-STS:task_state")}


def services():
    return {s["host"]: s for s in NOVA.get("/os-services?binary=nova-compute").json()["services"]}


def ts(text):
    if not text:
        return None
    d = datetime.datetime.fromisoformat(text.replace("Z", "").split(".")[0])
    return d.replace(tzinfo=datetime.timezone.utc).timestamp()


def compute_pid_alive(host):
    """the lab's nova-compute of HOST runs (its pid file, PID-reuse guarded)"""
    try:
        pid = open(f"{RUN}/os/nova-compute-{host}.pid").read().split()[0]
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        state = [l for l in open(f"/proc/{pid}/status") if l.startswith("State:")][0]
        return ("nova-compute" in cmd and f"/{host}.conf" in cmd and "Z" not in state) and pid
    except (OSError, IndexError):
        return False


class Pacemaker:
    def __init__(self, pcmk, ctls):
        self.pcmk, self.ctls = pcmk, ctls.split()

    def run(self, *args):
        for c in self.ctls:
            if os.path.exists(f"{RUN}/pcmk/nodes/{c}/powered-off"):
                continue
            try:
                r = subprocess.run([self.pcmk, "exec", c, *args], capture_output=True, text=True, timeout=20)
            except subprocess.TimeoutExpired:
                continue
            if r.returncode == 0 and r.stdout.strip():
                return r.stdout
        return ""

    def view(self, hosts):
        """{host: (online, wait_role, nova_role)}, nova-evacuate's node"""
        x = self.run("crm_mon", "-1", "--output-as=xml")
        if not x:
            return None, None
        out = {}
        for h in hosts:
            m = re.search(rf'<node name="{re.escape(h)}" [^>]*online="(\w+)"', x)
            online = m and m.group(1) == "true"
            roles = {}
            for rid in ("nova-compute-wait", "nova-compute"):
                role = "Stopped"
                for m in re.finditer(rf'<resource id="{rid}" [^>]*role="(\w+)"[^>]*>\s*<node name="([^"]+)"', x):
                    if m.group(2) == h:
                        role = m.group(1)
                roles[rid] = role
            out[h] = (bool(online), roles["nova-compute-wait"], roles["nova-compute"])
        m = re.search(r'<resource id="nova-evacuate" [^>]*role="(\w+)"[^>]*>\s*<node name="([^"]+)"', x)
        ne = f"{m.group(1)} on {m.group(2)}" if m else "Stopped"
        return out, ne

    def fenced(self, host, since):
        """[(action, status, completed, delegate)] of HOST's fencing since SINCE"""
        x = self.run("stonith_admin", "--history", host, "--output-as=xml")
        ev = []
        for m in re.finditer(r"<fence_event ([^>]*)/?>", x):
            a = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            done = ts(a.get("completed")) if a.get("completed") else None
            if done and done < since:
                continue
            ev.append((a.get("action"), a.get("status"), done, a.get("delegate", "")))
        return ev


def first_log_time(pat, parse, since):
    """The earliest time stamp at or after SINCE of a line matching PAT (its
    group 1 read by PARSE into an epoch) in any controller's pacemaker.log;
    None if none. Both Pacemaker and our agents stamp local time (here UTC)
    to the millisecond, so a phase taken from it is when it happened, not
    when this watch, polling Nova and Pacemaker about once a second, noticed."""
    state = os.environ.get("IHA_PCMK_STATE", os.path.join(os.environ.get("IHA_STATE", "/var/lib/iha-lab"), "pcmk"))
    stamps = []
    for ctl in ("ctl1", "ctl2", "ctl3"):
        try:
            text = open(os.path.join(state, ctl, "var/log/pacemaker/pacemaker.log"), errors="replace").read()
        except OSError:
            continue
        stamps += [t for t in (parse(m.group(1)) for m in pat.finditer(text)) if t >= since]
    return min(stamps, default=None)


def utc(d):
    return d.replace(tzinfo=datetime.timezone.utc).timestamp()


# NovaEvacuate's line for a server's first evacuate request
FIRST_REQUEST = r"evacuate \S+ \(.*\) attempt 1\b"


def agent_log_time(host, message, since):
    """our agents' first line "HOST: MESSAGE..." (MESSAGE a regex), stamped
    2026/12/02_05:55:02.149"""
    pat = re.compile(r"(\d{4}/\d\d/\d\d_\d\d:\d\d:\d\d(?:\.\d+)?) INFO: " + re.escape(host) + r": " + message)
    return first_log_time(pat, lambda st: utc(datetime.datetime.strptime(
        st, "%Y/%m/%d_%H:%M:%S.%f" if "." in st else "%Y/%m/%d_%H:%M:%S")), since)


def pacemaker_log_time(message, since):
    """Pacemaker's own first line matching MESSAGE (a regex), stamped
    "Dec 02 05:55:02.149" (no year: SINCE's)"""
    pat = re.compile(r"^(\w{3} \d\d \d\d:\d\d:\d\d\.\d+) .*" + message, re.M)
    year = datetime.datetime.fromtimestamp(since, datetime.timezone.utc).year
    return first_log_time(pat, lambda st: utc(datetime.datetime.strptime(f"{year} {st}", "%Y %b %d %H:%M:%S.%f")), since)


def cmd_snapshot(a):
    snap = []
    for h in a.hosts:
        snap += [brief(s) for s in servers(h)]
    json.dump(snap, sys.stdout, indent=1)


def cmd_watch(a):
    snap = json.load(open(a.snapshot))
    if not snap:
        # "every server arrived" holds for none: a watch over nothing proves
        # nothing (the demo once reported success with 0 servers on the host)
        sys.exit("nothing to watch: the snapshot holds no server on the host")
    hosts = a.hosts.split()
    t0 = a.t0 or time.time()
    deadline = time.time() + a.timeout
    pm = Pacemaker(a.pcmk, a.ctl)
    said = {}
    phases = {}
    posts = {s["id"]: 0 for s in snap}
    violations = []
    offset = a.offset
    arrived = {}

    def say(key, text):
        if said.get(key) != text:
            said[key] = text
            if not a.quiet:
                print(f"[+{time.time() - t0:5.1f}s] {text}", flush=True)
            return True
        return False

    def phase(name, text=None, at=None):
        """AT: when it happened, if a time stamp says so (else: now, when seen);
        a callable, so that the logs are read once, not at every poll"""
        if name not in phases:
            at = at() if callable(at) else at
            phases[name] = round((at if at is not None else time.time()) - t0, 1)
            if text and not a.quiet:
                # lines stay in the order seen; a stamped phase says when it was
                stamp = f" (at +{phases[name]:.1f}s, by its log time stamp)" if at is not None else ""
                print(f"[+{time.time() - t0:5.1f}s] == {text}{stamp}", flush=True)

    by_id = {s["id"]: s for s in snap}
    while True:
        now = time.time()
        # nova-api access log: evacuate (POST .../action) requests for our servers
        if a.access_log:
            try:
                with open(a.access_log, "rb") as f:
                    f.seek(offset)
                    chunk = f.read()
                cut = chunk.rfind(b"\n") + 1
                offset += cut
                for line in chunk[:cut].decode(errors="replace").splitlines():
                    m = re.search(r'"POST /v2\.1/servers/([0-9a-f-]+)/action', line)
                    if m and m.group(1) in posts:
                        posts[m.group(1)] += 1
                        # NovaEvacuate's own line is stamped to the ms (the
                        # access log only to the second)
                        phase("first_request", "first evacuate request sent to Nova",
                              lambda: agent_log_time(by_id[m.group(1)]["host"], FIRST_REQUEST, t0 - 2))
                        if posts[m.group(1)] > 1:
                            violations.append(f"second action request for {by_id[m.group(1)]['name']}")
                            say("v" + m.group(1), f"VIOLATION: second POST action for {by_id[m.group(1)]['name']}")
            except OSError:
                pass
        # Pacemaker's view
        view, ne = pm.view(hosts)
        if ne is not None:
            say("ne", f"nova-evacuate: {ne}")
        for h in hosts:
            if view and h in view:
                online, wrole, nrole = view[h]
                say("pc" + h, f"{h}: cluster node {'online' if online else 'OFFLINE'}, nova-compute-wait {wrole}, nova-compute {nrole}")
                if not online:
                    # a dead node: the controller hosting its connection logs
                    # the loss (a cut network may only time out: then "seen")
                    phase("detected", f"{h} lost by the cluster",
                          lambda: pacemaker_log_time(r"Lost connection to Pacemaker Remote node " + re.escape(h) + r"\b", t0 - 1))
                elif "detected" in phases:
                    phase("node_back", f"{h} back in the cluster (unfencing, then nova-compute-wait)")
            if "fenced" not in phases:
                # fence_compute's own line (the level's last device) in the
                # controllers' pacemaker.log says the level completed, to the
                # ms; stonith_admin --history (to the second) can lose a remote
                # node's entries once it rejoins.
                at = agent_log_time(h, "fenced in Nova", t0 - 2)
                if at is not None:
                    phase("fenced", f"{h} fenced: power device + fence_compute (\"{h}: fenced in Nova\" in pacemaker.log)", at)
            if "fenced" not in phases:
                for act, st, done, dlg in pm.fenced(h, t0 - 5):
                    if st == "success":
                        phase("fenced", f"{h} fenced ({act}, by {dlg or 'the cluster'}): power device + fence_compute")
                        break
        # Nova's services
        sv = services()
        for h in hosts:
            s = sv.get(h)
            if not s:
                continue
            say("sv" + h, f"{h}: nova-compute service {s['state']}, {s['status']}, forced_down={s.get('forced_down')}"
                + (f", disabled_reason: {s['disabled_reason']}" if s.get("disabled_reason") else ""))
            if s.get("forced_down"):
                phase("forced_down", f"{h} forced down in Nova",
                      lambda: agent_log_time(h, "nova-compute forced down", t0 - 2))
            reason = s.get("disabled_reason") or ""
            for p in ("evacuating", "evacuated"):
                if f"instance-ha: {p}" in reason:
                    phase(p, f"{h}: Nova records '{p}'")
        # servers
        pending = 0
        for s in snap:
            try:
                cur = brief(NOVA.get(f"/servers/{s['id']}").json()["server"])
            except Exception as e:  # noqa: BLE001
                say("err" + s["id"], f"{s['name']}: {e}")
                pending += 1
                continue
            say("s" + s["id"], f"  {s['name']}: {cur['status']} on {cur['host']}" + (f" ({cur['task']})" if cur["task"] else ""))
            if cur["status"] == "ERROR":
                violations.append(f"{s['name']} in ERROR")
            done = cur["host"] != s["host"] and cur["status"] == s["status"] and not cur["task"]
            if done and s["id"] not in arrived:
                arrived[s["id"]] = round(now - t0, 1)
            if not done:
                pending += 1
        if pending == 0:
            phase("evacuated", f"all {len(snap)} servers run on other hosts, in their original state")
        # nova-compute of the failed hosts: must not run while their evacuation is open
        for h in hosts:
            pid = compute_pid_alive(h)
            say("pid" + h, f"{h}: nova-compute process {'running (pid ' + pid + ')' if pid else 'not running'}")
            if not pid:
                phases.setdefault("compute_stopped_" + h, round(now - t0, 1))
            if pid and "compute_stopped_" + h in phases:
                if pending:
                    violations.append(f"{h}: nova-compute running while {pending} server(s) not evacuated")
                    say("vp" + h, f"VIOLATION: nova-compute of {h} runs mid-evacuation")
                phase("nova_compute_started", f"nova-compute started again on {h}")
        back = all(sv.get(h) and sv[h]["state"] == "up" and sv[h]["status"] == "enabled"
                   and not sv[h].get("forced_down") and view and view.get(h, (0, 0, ""))[2] == "Started"
                   for h in hosts)
        if back and "evacuated" in phases:
            phase("back", f"{' '.join(hosts)} back in service: up, enabled, forced_down false")
        reached = "evacuated" in phases and (a.until == "evacuated" or "back" in phases)
        if reached or violations or time.time() > deadline:
            break
        time.sleep(max(0.0, 1.0 - (time.time() - now)))
    result = {"phases": phases, "posts": {by_id[k]["name"]: v for k, v in posts.items()},
              "arrived": {by_id[k]["name"]: v for k, v in arrived.items()},
              "violations": violations, "reached": reached, "t0": t0}
    if a.json:
        json.dump(result, open(a.json, "w"), indent=1)
    if not reached:
        print(f"TIMEOUT after {a.timeout:.0f}s: phases {phases}", flush=True)
    for v in violations:
        print(f"VIOLATION: {v}", flush=True)
    sys.exit(0 if reached and not violations else 1)


def cmd_fenced_first(a):
    """HOST's first evacuate request came after fence_compute's "fenced in Nova"
    (the level's last device), both by the agents' own time stamps"""
    fenced = agent_log_time(a.host, "fenced in Nova", a.since - 2)
    req = agent_log_time(a.host, FIRST_REQUEST, a.since - 2)
    if fenced is None or req is None:
        sys.exit(f"{a.host}: 'fenced in Nova' at {fenced}, first evacuate request at {req} (None: no such line since {a.since - 2})")
    print(f"{a.host}: fenced in Nova at +{fenced - a.since:.3f} s, first evacuate request at +{req - a.since:.3f} s")
    sys.exit(0 if fenced <= req else 1)


def cmd_migrations(a):
    snap = json.load(open(a.snapshot))
    out = {}
    for s in snap:
        ms = NOVA.get(f"/os-migrations?instance_uuid={s['id']}&migration_type=evacuation").json()["migrations"]
        out[s["id"]] = [m["status"] for m in ms if (ts(m["created_at"]) or 0) >= a.since - 2]
    json.dump(out, sys.stdout)


def cmd_stop(a):
    for i in a.ids:
        NOVA.post(f"/servers/{i}/action", json={"os-stop": None})
    t = time.time()
    while time.time() - t < 120:
        if all(NOVA.get(f"/servers/{i}").json()["server"]["status"] == "SHUTOFF" for i in a.ids):
            return
        time.sleep(1)
    sys.exit("servers not SHUTOFF after 120 s")


def cmd_delete(a):
    for s in json.load(open(a.snapshot)):
        NOVA.delete(f"/servers/{s['id']}", raise_exc=False)


def cmd_settle(a):
    t = time.time()
    while True:
        sv = services()
        bad = [h for h in a.hosts if not sv.get(h) or sv[h]["state"] != "up" or sv[h]["status"] != "enabled"
               or sv[h].get("forced_down") or "instance-ha:" in (sv[h].get("disabled_reason") or "")]
        if not bad:
            return
        if time.time() - t > a.timeout:
            sys.exit("not settled: " + ", ".join(f"{h}={sv.get(h, {}).get('state')}/{sv.get(h, {}).get('status')}/"
                                                  f"{sv.get(h, {}).get('forced_down')}" for h in bad))
        time.sleep(1)


def main():
    p = argparse.ArgumentParser()
    sp = p.add_subparsers(dest="cmd", required=True)
    s = sp.add_parser("snapshot")
    s.add_argument("hosts", nargs="+")
    w = sp.add_parser("watch")
    w.add_argument("--snapshot", required=True)
    w.add_argument("--hosts", required=True)
    w.add_argument("--until", choices=["evacuated", "back"], default="back")
    w.add_argument("--timeout", type=float, default=300)
    w.add_argument("--t0", type=float, default=0)
    w.add_argument("--access-log")
    w.add_argument("--offset", type=int, default=0)
    w.add_argument("--ctl", default="ctl1 ctl2")
    w.add_argument("--pcmk", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "../harness/pcmk.sh"))
    w.add_argument("--json")
    w.add_argument("--quiet", action="store_true")
    m = sp.add_parser("migrations")
    m.add_argument("snapshot")
    m.add_argument("--since", type=float, required=True)
    ff = sp.add_parser("fenced-first")
    ff.add_argument("host")
    ff.add_argument("--since", type=float, required=True)
    st = sp.add_parser("stop")
    st.add_argument("ids", nargs="+")
    d = sp.add_parser("delete")
    d.add_argument("snapshot")
    se = sp.add_parser("settle")
    se.add_argument("hosts", nargs="+")
    se.add_argument("--timeout", type=float, default=300)
    a = p.parse_args()
    {"snapshot": cmd_snapshot, "watch": cmd_watch, "migrations": cmd_migrations, "fenced-first": cmd_fenced_first, "stop": cmd_stop,
     "delete": cmd_delete, "settle": cmd_settle}[a.cmd](a)


if __name__ == "__main__":
    main()
