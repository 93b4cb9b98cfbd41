#!/usr/bin/env python3
"""Create (idempotently) the Keystone entities the lab needs, in one process.

Done in Python instead of ~25 `openstack ...` calls because each CLI call costs
1-2 s of interpreter start-up.

Creates: project `service`; users nova, placement, glance, neutron (role admin +
service in project service); services + public/internal endpoints for compute,
placement, image and network (network = the fake-neutron stub).
Env: OS_AUTH_URL, OS_PASSWORD (admin), SERVICE_PASS, REGION, *_PORT.
"""
import os

from keystoneauth1 import session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client

env = os.environ
auth = v3.Password(auth_url=env["OS_AUTH_URL"], username="admin",
                   password=env["OS_PASSWORD"], project_name="admin",
                   user_domain_name="Default", project_domain_name="Default")
ks = client.Client(session=session.Session(auth=auth))
region = env.get("REGION", "RegionOne")
svc_pass = env["SERVICE_PASS"]


def one(lst):
    return lst[0] if lst else None


domain = ks.domains.get("default")
project = one(ks.projects.list(name="service")) or ks.projects.create(
    "service", domain, description="service users")
roles = {r.name: r for r in ks.roles.list()}
for rname in ("admin", "service"):
    if rname not in roles:
        roles[rname] = ks.roles.create(rname)

for uname in ("nova", "placement", "glance", "neutron"):
    user = one(ks.users.list(name=uname, domain=domain))
    if user is None:
        user = ks.users.create(uname, domain=domain, password=svc_pass)
    else:
        ks.users.update(user, password=svc_pass)
    for rname in ("admin", "service"):
        ks.roles.grant(roles[rname], user=user, project=project)

# iha-cloud: 127.0.0.1 on the host, the host veth (.254) inside lab nodes
h = "http://" + env.get("CLOUD_HOST", "iha-cloud")
catalog = [
    ("nova", "compute", f"{h}:{env['NOVA_PORT']}/v2.1"),
    ("placement", "placement", f"{h}:{env['PLACEMENT_PORT']}"),
    ("glance", "image", f"{h}:{env['GLANCE_PORT']}"),
    ("neutron", "network", f"{h}:{env['NEUTRON_PORT']}"),
]
for name, stype, url in catalog:
    svc = one(ks.services.list(type=stype)) or ks.services.create(name, stype)
    have = {e.interface: e for e in ks.endpoints.list(service=svc)}
    for iface in ("public", "internal", "admin"):
        if iface in have:
            if have[iface].url != url:
                ks.endpoints.update(have[iface], url=url)
        else:
            ks.endpoints.create(svc, url, interface=iface, region=region)
print("keystone entities ok")
