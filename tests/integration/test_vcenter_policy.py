"""VCenterSecurityPolicy end to end: drift made through the API, seen by plan, fixed by apply, read back, plan 0."""

from __future__ import annotations

import time

import pytest
from pyVim.task import WaitForTask
from pyVmomi import VmomiSupport, vim

from harness import Workspace, by_name

VDS = vim.dvs.VmwareDistributedVirtualSwitch
PG = "DC0_DVPG0"


@pytest.fixture(scope="module")
def vsim():
    from simulator import start_simulator
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


def test_report_names_the_controls_of_each_vcenter_field(ws, capsys):
    si = ws.sim.connect()
    dvs = _switch(si)
    WaitForTask(dvs.ReconfigureDvs_Task(spec=VDS.ConfigSpec(
        configVersion=dvs.config.configVersion,
        linkDiscoveryProtocolConfig=vim.host.LinkDiscoveryProtocolConfig(protocol="cdp", operation="advertise"))))
    ws.policy("vc", """
        selector: {switches: ["DVS0"]}
        advancedSettings: {VirtualCenter.VimPasswordExpirationInDays: 30}
        distributedSwitch: {linkDiscoveryOperation: none}
    """, kind="VCenterSecurityPolicy")
    report = ws.vsr(capsys, "report")
    rows = {(r["object"]["name"], r["control"]): r["status"] for r in report.json["results"]}
    assert rows[("DVS0", "vcenter-8.network-restrict-discovery-protocol")] == "fail"
    assert rows[("VpxSettings", "vcenter-8.vpxuser-rotation")] == "pass"
    assert report.code == 2


def test_simulator_refuses_stale_and_invalid_switch_and_portgroup_specs(vsim):
    si = vsim.connect()
    dvs = _switch(si)
    stale = VDS.ConfigSpec(configVersion=str(int(dvs.config.configVersion) - 1),
                           linkDiscoveryProtocolConfig=vim.host.LinkDiscoveryProtocolConfig(protocol="cdp", operation="none"))
    with pytest.raises(vim.fault.ConcurrentAccess):
        WaitForTask(dvs.ReconfigureDvs_Task(spec=stale))
    bad = VDS.ConfigSpec(configVersion=dvs.config.configVersion,
                         linkDiscoveryProtocolConfig=vim.host.LinkDiscoveryProtocolConfig(protocol="cdp", operation="loud"))
    with pytest.raises(vmodl_fault("InvalidArgument")) as exc:
        WaitForTask(dvs.ReconfigureDvs_Task(spec=bad))
    assert exc.value.invalidProperty == "spec.linkDiscoveryProtocolConfig.operation"
    pg = by_name(si, vim.dvs.DistributedVirtualPortgroup, PG)
    trunk = VDS.VmwarePortConfigPolicy(vlan=VDS.TrunkVlanSpec(vlanId=[vim.NumericRange(start=10, end=5000)]))
    with pytest.raises(vmodl_fault("InvalidArgument")) as exc:
        WaitForTask(pg.ReconfigureDVPortgroup_Task(spec=vim.dvs.DistributedVirtualPortgroup.ConfigSpec(
            configVersion=pg.config.configVersion, defaultPortConfig=trunk)))
    assert exc.value.invalidProperty == "spec.defaultPortConfig.vlan.vlanId[0]"
    with pytest.raises(vmodl_fault("InvalidArgument")):
        si.RetrieveContent().setting.UpdateOptions(changedValue=[
            vim.option.OptionValue(key="config.log.level", value="chatty")])


def vmodl_fault(name: str) -> type:
    from pyVmomi import vmodl
    return getattr(vmodl.fault, name)


def test_key_provider_default_is_switched_and_a_missing_one_is_reported(ws, capsys):
    si = ws.sim.connect()
    crypto = si.RetrieveContent().cryptoManager
    ws.policy("keys", "keyProvider: {required: true}", kind="VCenterSecurityPolicy")
    none = ws.vsr(capsys, "plan")
    change = none.changes(path="keyProvider.required")[0]
    assert change["reason"] == "unsupported" and "does not register key providers" in change["message"]
    for cluster in ("kms-a", "kms-b"):
        crypto.RegisterKmipServer(server=vim.encryption.KmipServerSpec(
            clusterId=vim.encryption.KeyProviderId(id=cluster),
            info=vim.encryption.KmipServerInfo(name=f"{cluster}-1", address="192.0.2.20", port=5696)))
    ws.policy("keys", "keyProvider: {required: true, default: kms-b}", kind="VCenterSecurityPolicy")
    plan = ws.vsr(capsys, "plan")
    change = plan.changes(path="keyProvider.default")[0]
    assert (change["current"], change["desired"]) == ("kms-a", "kms-b")
    assert ws.vsr(capsys, "apply").code == 0
    assert [(c.clusterId.id, c.useAsDefault) for c in crypto.kmipServers] == [("kms-a", False), ("kms-b", True)]
    assert ws.vsr(capsys, "plan").code == 0


def test_daemon_fixes_an_out_of_band_switch_and_vcenter_setting_change(vsim, tmp_path):
    from test_daemon import Daemon, vcenter_doc

    from harness import wait_for

    d = Daemon(tmp_path / "d")
    (d.specs / "vc.yaml").write_text(vcenter_doc(vsim, "sim", tmp_path / "creds"))
    (d.specs / "policy.yaml").write_text(
        "apiVersion: vsr.dev/v1alpha1\nkind: VCenterSecurityPolicy\nmetadata: {name: vc}\nspec:\n"
        "  selector: {switches: [\"DVS0\"]}\n"
        "  advancedSettings: {VirtualCenter.VimPasswordExpirationInDays: 30}\n"
        "  distributedSwitch: {linkDiscoveryOperation: none}\n")
    si = vsim.connect()
    try:
        d.start().wait_ready()
        dvs = _switch(si)
        WaitForTask(dvs.ReconfigureDvs_Task(spec=VDS.ConfigSpec(
            configVersion=dvs.config.configVersion,
            linkDiscoveryProtocolConfig=vim.host.LinkDiscoveryProtocolConfig(protocol="lldp", operation="both"))))
        si.RetrieveContent().setting.UpdateOptions(changedValue=[vim.option.OptionValue(
            key="VirtualCenter.VimPasswordExpirationInDays", value=VmomiSupport.vmodlTypes["long"](365))])
        started = time.monotonic()

        def fixed() -> bool:
            options = {o.key: o.value for o in si.RetrieveContent().setting.setting}
            return (_switch(si).config.linkDiscoveryProtocolConfig.operation == "none"
                    and options["VirtualCenter.VimPasswordExpirationInDays"] == 30)

        wait_for(fixed, 5.0, f"both changes undone\n{d.log.read_text()}", interval=0.1)
        print(f"out-of-band switch and setting change -> fixed in {time.monotonic() - started:.2f} s")
        assert [e for e in d.events("DriftDetected", "DVS0", "distributedSwitch.linkDiscoveryOperation")
                if "both" in repr(e.current)], [e.current for e in d.events("DriftDetected")]

        def ready() -> bool:
            policy = next((p for p in d.status().get("policies", []) if p["name"] == "vc"), None)
            return policy is not None and {c["type"]: c["status"] for c in policy["conditions"]}["Ready"] == "True"

        wait_for(ready, 3.0, f"policy vc Ready in /status: {d.status()}", interval=0.1)
    finally:
        if d.proc is not None:
            d.stop()


def test_both_portgroup_owners_fix_one_portgroup_in_one_pass_from_a_saved_plan(ws, capsys, tmp_path):
    """HostSecurityPolicy owns the portgroup's security policy, VCenterSecurityPolicy the rest: two partial
    reconfigures of one portgroup in one apply, the second carrying the configVersion the first produced."""
    from reconciler.cli import main as vsr_main

    si = ws.sim.connect()
    pg = by_name(si, vim.dvs.DistributedVirtualPortgroup, PG)
    port = VDS.VmwarePortConfigPolicy(
        securityPolicy=VDS.SecurityPolicy(allowPromiscuous=vim.BoolPolicy(value=True)),
        macManagementPolicy=VDS.MacManagementPolicy(macLearningPolicy=VDS.MacLearningPolicy(enabled=True)))
    WaitForTask(pg.ReconfigureDVPortgroup_Task(spec=vim.dvs.DistributedVirtualPortgroup.ConfigSpec(
        configVersion=pg.config.configVersion, defaultPortConfig=port)))
    ws.policy("host-dv", f"""
        selector: {{datacenters: ["DC0"]}}
        networkSecurity: {{allowPromiscuous: false, distributedPortgroups: ["{PG}"]}}
    """)
    ws.policy("vc", f"""
        selector: {{portgroups: ["{PG}"]}}
        distributedPortgroup: {{macLearning: false}}
    """, kind="VCenterSecurityPolicy")
    saved = tmp_path / "reviewed.plan"
    planned = ws.vsr(capsys, "plan", "--out", str(saved))
    assert planned.code == 2
    assert sorted((c["controller"], c["path"]) for c in planned.changes(name=PG)) == [
        ("dvPortgroupSecurity", "networkSecurity.allowPromiscuous"), ("vcenterPortgroups", "distributedPortgroup.macLearning")]
    capsys.readouterr()
    assert vsr_main(["apply", str(saved), "-o", "json", "--journal", str(ws.journal)]) == 0, capsys.readouterr()
    pg = by_name(si, vim.dvs.DistributedVirtualPortgroup, PG)
    config = pg.config.defaultPortConfig
    assert (config.securityPolicy.allowPromiscuous.value, config.macManagementPolicy.macLearningPolicy.enabled) == (False, False)
    assert ws.vsr(capsys, "plan").code == 0
