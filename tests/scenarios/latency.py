#!/usr/bin/env python3
"""NovaEvacuate's reaction latency, from the agents' own log lines.

  latency.py HOST SINCE_EPOCH LOGFILE...

From: fence_compute's "HOST: attrd evacuate=yes" (recorded by pacemaker-fenced
from its stderr); to: NovaEvacuate's first "HOST: evacuate <id> (...) attempt
1" (its helper writes to Pacemaker's log file). Both carry the agents' time
stamp (2026/11/21_20:47:27.123, local time, milliseconds). Prints
"X.XXX s (fenced record HH:MM:SS.mmm -> first request HH:MM:SS.mmm on NODE)".
"""
import datetime
import re
import sys

host, since, files = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
STAMP = re.compile(r"(\d{4}/\d\d/\d\d_\d\d:\d\d:\d\d(?:\.\d+)?)")


def stamp(line):
    m = STAMP.search(line)
    if not m:
        return None
    fmt = "%Y/%m/%d_%H:%M:%S.%f" if "." in m.group(1) else "%Y/%m/%d_%H:%M:%S"
    return datetime.datetime.strptime(m.group(1), fmt).timestamp()   # local time, as the agents write it


rec, req = [], []
for f in files:
    try:
        lines = open(f, errors="replace").read().splitlines()
    except OSError:
        continue
    node = f.split("/pcmk/")[1].split("/")[0] if "/pcmk/" in f else f
    for line in lines:
        if f"{host}: attrd evacuate=yes" in line:
            t = stamp(line)
            if t and t >= since - 1:
                rec.append((t, node))
        elif "NovaEvacuate" in line and re.search(rf"{re.escape(host)}: evacuate \S+ \(.*\) attempt 1\b", line):
            t = stamp(line)
            if t and t >= since - 1:
                req.append((t, node))
if not rec or not req:
    sys.exit(f"not found: {len(rec)} fence_compute record line(s), {len(req)} NovaEvacuate request line(s)")
r = min(rec)
q = min(x for x in req if x[0] >= r[0] - 0.001) if any(x[0] >= r[0] - 0.001 for x in req) else min(req)
fmt = lambda t: datetime.datetime.fromtimestamp(t).strftime("%H:%M:%S.%f")[:-3]
print(f"{q[0] - r[0]:.3f} s (fence_compute recorded {fmt(r[0])} on {r[1]} -> NovaEvacuate's first evacuate request {fmt(q[0])} on {q[1]})")
