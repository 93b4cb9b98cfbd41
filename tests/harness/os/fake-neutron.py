#!/usr/bin/env python3
"""Minimal stand-in for the Neutron API on 0.0.0.0:9696 (reached as iha-cloud:9696
from the host and from inside the Pacemaker lab nodes).

Nova has no "no networking" mode any more: even for servers booted with
`networks: "none"` (microversion >= 2.37) it calls Neutron to list the
instance's ports on evacuate (conductor: get_requested_resource_for_instance,
compute: setup_networks_on_host / setup_instance_network_on_host), on delete
(deallocate_for_instance) and in the periodic info-cache heal.  Running a real
neutron-server (+ a DB, ML2, agents) is out of scope for this lab, so this stub
answers every collection GET with an empty list, and records the calls it got
(so a report can show which Neutron calls evacuation makes).

Auth tokens are not checked.  It never creates anything.
"""
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9696


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = urlparse(self.path).path.rstrip("/")
        if path in ("", "/"):
            return self._send(200, {"versions": [{"id": "v2.0", "status": "CURRENT",
                                                  "links": [{"rel": "self",
                                                             "href": f"http://iha-cloud:{PORT}/v2.0/"}]}]})
        if path == "/v2.0":
            return self._send(200, {"resources": []})
        m = re.fullmatch(r"/v2\.0/([a-z_-]+)", path)
        if m:
            coll = m.group(1).replace("-", "_")
            if coll == "quotas":
                return self._send(200, {"quotas": []})
            return self._send(200, {coll: []})
        # /v2.0/<collection>/<id> : nothing exists
        return self._send(404, {"NeutronError": {"type": "NotFound", "message": "fake-neutron: not found", "detail": ""}})

    def _no(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        self._send(404, {"NeutronError": {"type": "NotFound", "message": "fake-neutron: read-only stub", "detail": ""}})

    do_POST = do_PUT = do_DELETE = _no

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))


if __name__ == "__main__":
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("0.0.0.0", PORT), H).serve_forever()
