"""VCenterSecurityPolicy end to end: drift made through the API, seen by plan, fixed by apply, read back, plan 0."""

from __future__ import annotations

import pytest
from pyVim.task import WaitForTask
from pyVmomi import VmomiSupport, vim

from harness import Workspace, by_name

VDS = vim.dvs.VmwareDistributedVirtualSwitch
PG = "DC0_DVPG0"


@pytest.fixture(scope="module")
def vsim():
    from tests.simulator import start_simulator
    handle = start_simulator()
    yield handle
    handle.stop()


@pytest.fixture
def ws(tmp_path, vsim):
    return Workspace(tmp_path, vsim)


def _switch(si):
    return by_name(si, vim.DistributedVirtualSwitch, "DVS0")


def _drift_switch(si) -> None:
    dvs = _switch(si)
    spec = VDS.ConfigSpec(
        configVersion=dvs.config.configVersion,
        linkDiscoveryProtocolConfig=vim.host.LinkDiscoveryProtocolConfig(protocol="lldp", operation="both"),
        ipfixConfig=VDS.IpfixConfig(collectorIpAddress="203.0.113.9", collectorPort=4739, activeFlowTimeout=60,
                                    idleFlowTimeout=15, samplingRate=0, internalFlowsOnly=False),
        vspanConfigSpec=[VDS.VspanConfigSpec(operation="add", vspanSession=VDS.VspanSession(name=n, enabled=True))
                         for n in ("rogue", "approved")])
    WaitForTask(dvs.ReconfigureDvs_Task(spec=spec))


def _drift_portgroup(si) -> None:
    pg = by_name(si, vim.dvs.DistributedVirtualPortgroup, PG)
    policy = pg.config.policy
    policy.portConfigResetAtDisconnect = False
    policy.vlanOverrideAllowed = True
    port = VDS.VmwarePortConfigPolicy(
        macManagementPolicy=VDS.MacManagementPolicy(macLearningPolicy=VDS.MacLearningPolicy(enabled=True)),
        ipfixEnabled=vim.BoolPolicy(value=True),
        vlan=VDS.TrunkVlanSpec(vlanId=[vim.NumericRange(start=0, end=4094)]))
    spec = vim.dvs.DistributedVirtualPortgroup.ConfigSpec(configVersion=pg.config.configVersion,
                                                          defaultPortConfig=port, policy=policy)
    WaitForTask(pg.ReconfigureDVPortgroup_Task(spec=spec))


POLICY = f"""
    selector: {{datacenters: ["DC0"], switches: ["DVS*"], portgroups: ["{PG}"]}}
    advancedSettings: {{VirtualCenter.VimPasswordExpirationInDays: 30, config.log.level: info}}
    distributedSwitch: {{linkDiscoveryOperation: none, mirrorSessions: [approved], ipfixCollectors: [192.0.2.0/24]}}
    distributedPortgroup:
      macLearning: false
      portConfigResetAtDisconnect: true
      vlanOverrideAllowed: false
      blockOverrideAllowed: true
      ipfixEnabled: false
      vlanTrunkRanges: ["100-200"]
"""


def test_every_field_drift_plan_apply_read_back(ws, capsys):
    si = ws.sim.connect()
    content = si.RetrieveContent()
    _drift_switch(si)
    _drift_portgroup(si)
    content.setting.UpdateOptions(changedValue=[
        vim.option.OptionValue(key="VirtualCenter.VimPasswordExpirationInDays", value=VmomiSupport.vmodlTypes["long"](90)),
        vim.option.OptionValue(key="config.log.level", value="verbose")])
    ws.policy("vc", POLICY, kind="VCenterSecurityPolicy")

    plan = ws.vsr(capsys, "plan")
    assert plan.code == 2, plan.err
    paths = {(c["object"]["name"], c["path"]) for c in plan.json["changes"]}
    assert paths == {
        ("VpxSettings", "advancedSettings.VirtualCenter.VimPasswordExpirationInDays"),
        ("VpxSettings", "advancedSettings.config.log.level"),
        ("DVS0", "distributedSwitch.linkDiscoveryOperation"),
        ("DVS0", "distributedSwitch.mirrorSessions"),
        ("DVS0", "distributedSwitch.ipfixCollectors"),
        (PG, "distributedPortgroup.macLearning"),
        (PG, "distributedPortgroup.portConfigResetAtDisconnect"),
        (PG, "distributedPortgroup.vlanOverrideAllowed"),
        (PG, "distributedPortgroup.ipfixEnabled"),
        (PG, "distributedPortgroup.vlanTrunkRanges"),
    }
    trunk = plan.changes(path="distributedPortgroup.vlanTrunkRanges")[0]
    assert (trunk["current"], trunk["desired"]) == (["0-4094"], ["100-200"])

    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0, applied.out + applied.err

    dvs = _switch(si)
    assert dvs.config.linkDiscoveryProtocolConfig.operation == "none"
    assert dvs.config.linkDiscoveryProtocolConfig.protocol == "lldp"
    assert [s.name for s in dvs.config.vspanSession] == ["approved"]
    assert dvs.config.ipfixConfig.collectorIpAddress in (None, "")
    pg = by_name(si, vim.dvs.DistributedVirtualPortgroup, PG)
    port, policy = pg.config.defaultPortConfig, pg.config.policy
    assert port.macManagementPolicy.macLearningPolicy.enabled is False
    assert port.ipfixEnabled.value is False
    assert [(r.start, r.end) for r in port.vlan.vlanId] == [(100, 200)]
    assert (policy.portConfigResetAtDisconnect, policy.vlanOverrideAllowed, policy.blockOverrideAllowed) == (True, False, True)
    options = {o.key: o.value for o in content.setting.setting}
    assert (options["VirtualCenter.VimPasswordExpirationInDays"], options["config.log.level"]) == (30, "info")

    again = ws.vsr(capsys, "plan")
    assert again.code == 0 and again.json["changes"] == [], again.out
