"""Facts real vCenter reports that plain vcsim leaves unset: uplink portgroups, the managing vCenter's address."""

import pytest
from pyVmomi import vim

from simulator import objects_by_name

pytestmark = pytest.mark.integration


def objects(si, vim_type):
    return list(objects_by_name(si, vim_type).values())


def test_uplink_portgroups_are_marked_and_listed_by_their_switch(sim):
    si = sim.connect()
    groups = {pg.name: pg for pg in objects(si, vim.dvs.DistributedVirtualPortgroup)}
    uplinks = [name for name, pg in groups.items() if pg.config.uplink]
    assert len(uplinks) == 1 and "DVUplinks" in uplinks[0]
    assert groups["DC0_DVPG0"].config.uplink is False
    (dvs,) = objects(si, vim.DistributedVirtualSwitch)
    assert [pg._moId for pg in dvs.config.uplinkPortgroup] == [groups[uplinks[0]]._moId]


def test_hosts_know_their_vcenter_address_and_standalone_esx_has_none(sim, sim_factory):
    for host in objects(sim.connect(), vim.HostSystem):
        assert host.summary.managementServerIp == "127.0.0.1"
    esx = sim_factory("-esx")
    (host,) = objects(esx.connect(), vim.HostSystem)
    assert host.summary.managementServerIp is None
