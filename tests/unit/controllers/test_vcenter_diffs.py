"""Pure parts of the VCenterSecurityPolicy controllers: VLAN range arithmetic, portgroup/switch/key-provider diffs."""

from __future__ import annotations

from pyVmomi import vim

from reconciler.controllers.contract import ObjectState, Skip
from reconciler.controllers.vcenter_keys import VCenterKeyProvider
from reconciler.controllers.vcenter_portgroups import VCenterPortgroups, intersect, parse_ranges, render
from reconciler.controllers.vcenter_switches import VCenterSwitches
from reconciler.events.model import ObjectRef

VDS = vim.dvs.VmwareDistributedVirtualSwitch
PG_REF = ObjectRef("DistributedVirtualPortgroup", "dvportgroup-1", "pg", "vc")


def test_ranges_are_joined_and_intersected():
    assert parse_ranges(["300", "100-200", "150-250", "251-260"]) == [(100, 260), (300, 300)]
    assert intersect([(0, 4094)], parse_ranges(["100-200", "300"])) == [(100, 200), (300, 300)]
    assert intersect([(10, 20)], [(30, 40)]) == []
    assert render([(100, 200), (300, 300)]) == ["100-200", "300"]


def _portgroup(trunk: list[tuple[int, int]] | None, learning: bool = False) -> ObjectState:
    vlan = (VDS.TrunkVlanSpec(vlanId=[vim.NumericRange(start=a, end=b) for a, b in trunk]) if trunk is not None
            else VDS.VlanIdSpec(vlanId=10))
    port = VDS.VmwarePortConfigPolicy(vlan=vlan, macManagementPolicy=VDS.MacManagementPolicy(
        macLearningPolicy=VDS.MacLearningPolicy(enabled=learning)), ipfixEnabled=vim.BoolPolicy(value=False))
    return ObjectState(PG_REF, {"config.defaultPortConfig": port, "config.policy": VDS.VMwarePortgroupPolicy(
        blockOverrideAllowed=True, portConfigResetAtDisconnect=True), "config.uplink": False, "tag": []})


def test_a_trunk_is_narrowed_to_the_allowed_ranges_and_never_emptied():
    pg = VCenterPortgroups()
    path = ("distributedPortgroup", "vlanTrunkRanges")
    (narrow,) = pg.diff({path: ["100-200"]}, _portgroup([(0, 4094)]))
    assert (narrow.current, narrow.desired, narrow.skip) == (["0-4094"], ["100-200"], None)
    assert pg.diff({path: ["0-4094"]}, _portgroup([(5, 9)])) == []
    assert pg.diff({path: []}, _portgroup(None)) == []  # no trunk: nothing to judge
    (empty,) = pg.diff({path: []}, _portgroup([(0, 4094)]))
    assert empty.skip is Skip.UNSUPPORTED and "empty" in empty.message


def test_portgroup_flags_and_mac_learning():
    pg = VCenterPortgroups()
    diffs = pg.diff({("distributedPortgroup", "macLearning"): False,
                     ("distributedPortgroup", "blockOverrideAllowed"): True,
                     ("distributedPortgroup", "vlanOverrideAllowed"): False,
                     ("distributedPortgroup", "portConfigResetAtDisconnect"): False}, _portgroup(None, learning=True))
    assert [(d.path[1], d.current, d.desired) for d in diffs] == [("macLearning", True, False),
                                                                  ("portConfigResetAtDisconnect", True, False)]


def test_switch_mirroring_and_collectors():
    sw = VCenterSwitches()
    state = ObjectState(ObjectRef("DistributedVirtualSwitch", "dvs-1", "DVS0", "vc"), {"config": VDS.ConfigInfo(
        vspanSession=[VDS.VspanSession(key="1", name="ok"), VDS.VspanSession(key="2", name="rogue")],
        ipfixConfig=VDS.IpfixConfig(collectorIpAddress="192.0.2.7"),
        linkDiscoveryProtocolConfig=vim.host.LinkDiscoveryProtocolConfig(protocol="cdp", operation="none"))})
    assert sw.diff({("distributedSwitch", "ipfixCollectors"): ["192.0.2.0/24"],
                    ("distributedSwitch", "linkDiscoveryOperation"): "none"}, state) == []
    collector, mirror = sw.diff({("distributedSwitch", "mirrorSessions"): ["ok"],
                                 ("distributedSwitch", "ipfixCollectors"): []}, state)
    assert (mirror.current, mirror.desired) == (["ok", "rogue"], ["ok"])
    assert (collector.current, collector.desired) == ("192.0.2.7", "")


def _kms(*clusters: tuple[str, bool]) -> ObjectState:
    return ObjectState(ObjectRef("CryptoManagerKmip", "CryptoManager", "CryptoManager", "vc"), {"kmipServers": [
        vim.encryption.KmipClusterInfo(clusterId=vim.encryption.KeyProviderId(id=c), useAsDefault=d) for c, d in clusters]})


def test_key_provider_audit():
    kp = VCenterKeyProvider()
    required, default = ("keyProvider", "required"), ("keyProvider", "default")
    assert kp.diff({required: True}, _kms(("a", True))) == []
    (missing,) = kp.diff({required: True}, _kms())
    assert missing.skip is Skip.UNSUPPORTED and "site secrets" in missing.message
    (none_default,) = kp.diff({required: True}, _kms(("a", False), ("b", False)))
    assert "keyProvider.default" in none_default.message
    (switch,) = kp.diff({required: True, default: "b"}, _kms(("a", True), ("b", False)))
    assert (switch.current, switch.desired, switch.skip) == ("a", "b", None)
    (unknown,) = kp.diff({default: "z"}, _kms(("a", True)))
    assert unknown.skip is Skip.UNSUPPORTED and "not registered" in unknown.message
