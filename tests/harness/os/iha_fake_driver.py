"""nova.virt.fake.FakeDriver with node UUIDs that survive a restart.

Why: FakeDriver names its compute node uuid with oslo's `uuidsentinel`, which is
random per *process*.  Since nova 2023.1 nova-compute also insists on a
persistent node identity file ($state_path/compute_id) once it has started
once ("No local node identity found, but this is not our first startup on
this host. Refusing to start...").  So a plain fake compute cannot be killed
and started again - which is exactly what a fencing lab needs (host dies,
is fenced, comes back).

This subclass derives the node uuid from the node name (uuid5, like
fake.PredictableNodeUUIDDriver, which however is a 2-vCPU SmallFakeDriver and
still uses random uuids in get_nodenames_by_uuid), and openstack.sh writes the same
uuid into each compute's compute_id file before the first start.

Use: compute_driver = iha_fake_driver.StableFakeDriver; nova loads drivers
only from the nova.virt package, so openstack.sh (and deps.sh) copy this file into
<venv>/site-packages/nova/virt/.
"""
import uuid

from nova.virt import fake


def node_uuid(nodename):
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, nodename))


class StableFakeDriver(fake.FakeDriver):
    def get_available_resource(self, nodename):
        res = super().get_available_resource(nodename)
        if res:
            res["uuid"] = node_uuid(nodename)
        return res

    def get_nodenames_by_uuid(self, refresh=False):
        return {node_uuid(n): n for n in self.get_available_nodes()}
