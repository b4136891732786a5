"""Every host controller end to end against the simulator: drift made through pyVmomi -> `vsr plan` shows it
(exit 2) -> `vsr apply` fixes it -> read back through pyVmomi -> a second plan exits 0 -> events recorded."""

from __future__ import annotations

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim

from harness import Workspace, by_name, host, option, ruleset, service

pytestmark = pytest.mark.integration

HOST = "DC0_C0_H0"


@pytest.fixture
def ws(tmp_path, fresh_sim):
    return Workspace(tmp_path, fresh_sim)


def converge(ws, capsys, **match):
    """plan (exit 2, drift matching `match`) -> apply (exit 0) -> plan (exit 0); returns the first plan."""
    first = ws.vsr(capsys, "plan")
    assert first.code == 2, first.out + first.err
    assert first.changes(**match), f"no change matching {match} in {first.out}"
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0, applied.out + applied.err
    assert all(c["outcome"] == "applied" for c in applied.json["changes"]), applied.out
    again = ws.vsr(capsys, "plan")
    assert again.code == 0 and again.json["changes"] == [], again.out
    return first


def assert_events(ws, name, path):
    detected = [e for e in ws.events("DriftDetected") if e.object.name == name and e.path == path]
    fixed = [e for e in ws.events("DriftRemediated") if e.object.name == name and e.path == path]
    assert detected and fixed, f"events for {name} {path}: {ws.events()}"


def test_services_ssh_off(ws, capsys):
    si = ws.sim.connect()
    h = host(si, HOST)
    h.configManager.serviceSystem.UpdateServicePolicy(id="TSM-SSH", policy="on")
    h.configManager.serviceSystem.StartService(id="TSM-SSH")
    ws.policy("ssh-off", """
        selector: {hosts: ["*"]}
        services: {TSM-SSH: {running: false, policy: "off"}}
    """)
    first = converge(ws, capsys, name=HOST, path="services.TSM-SSH.running")
    assert first.changes(name=HOST, path="services.TSM-SSH.policy")[0]["current"] == "on"
    ssh = service(host(si, HOST), "TSM-SSH")
    assert (ssh.running, ssh.policy) == (False, "off")
    assert_events(ws, HOST, "services.TSM-SSH.running")


def test_firewall_allow_list_and_enable(ws, capsys):
    si = ws.sim.connect()
    h = host(si, HOST)
    h.configManager.firewallSystem.DisableRuleset(id="syslog")
    ws.policy("fw", """
        selector: {hosts: ["*"]}
        firewall:
          sshServer: {allowedIPs: ["192.168.10.0/24", "10.1.2.3"]}
          syslog: {enabled: true}
    """)
    converge(ws, capsys, name=HOST, path="firewall.sshServer.allowedIPs")
    ssh = ruleset(host(si, HOST), "sshServer")
    assert ssh.allowedHosts.allIp is False
    assert list(ssh.allowedHosts.ipAddress) == ["10.1.2.3"]
    assert [(n.network, n.prefixLength) for n in ssh.allowedHosts.ipNetwork] == [("192.168.10.0", 24)]
    assert ruleset(host(si, HOST), "syslog").enabled is True
    assert_events(ws, HOST, "firewall.sshServer.allowedIPs")


def test_advanced_settings_typed(ws, capsys):
    si = ws.sim.connect()
    h = host(si, HOST)
    from pyVmomi import VmomiSupport
    h.configManager.advancedOption.UpdateOptions(changedValue=[
        vim.option.OptionValue(key="Mem.ShareForceSalting", value=VmomiSupport.vmodlTypes["long"](0))])
    ws.policy("adv", """
        selector: {hosts: ["*"]}
        advancedSettings:
          Mem.ShareForceSalting: 2
          Syslog.global.logHost: "udp://192.168.10.5:514"
    """)
    first = converge(ws, capsys, name=HOST, path="advancedSettings.Mem.ShareForceSalting")
    assert first.changes(name=HOST, path="advancedSettings.Mem.ShareForceSalting")[0]["current"] == 0
    assert option(host(si, HOST), "Mem.ShareForceSalting") == 2
    assert option(host(si, HOST), "Syslog.global.logHost") == "udp://192.168.10.5:514"


def test_advanced_setting_unknown_key_and_bad_value_are_reported_not_fatal(ws, capsys):
    ws.policy("adv", """
        selector: {hosts: ["*"]}
        advancedSettings: {No.Such.Option: 1, Mem.ShareForceSalting: 99, Syslog.global.logHost: "udp://10.0.0.1:514"}
    """)
    run = ws.vsr(capsys, "apply")
    assert run.code == 2, run.out
    (unknown,) = run.changes(name=HOST, path="advancedSettings.No.Such.Option")
    assert unknown["reason"] == "unsupported" and "'No.Such.Option' does not exist on host DC0_C0_H0" in unknown["message"]
    (bad,) = run.changes(name=HOST, path="advancedSettings.Mem.ShareForceSalting")
    assert bad["reason"] == "invalid" and "out of range" in bad["message"]
    (fixed,) = run.changes(name=HOST, path="advancedSettings.Syslog.global.logHost")
    assert fixed["outcome"] == "applied", "a bad field never stops the others"


def test_lockdown_mode_and_exception_users(ws, capsys):
    ws.policy("lockdown", """
        selector: {hosts: ["DC0_C0_*"]}
        lockdown: {mode: normal, exceptionUsers: ["svc-backup"]}
    """)
    first = converge(ws, capsys, name=HOST, path="lockdown.mode")
    assert first.changes(name=HOST, path="lockdown.mode")[0]["impact"] == "disruptive"
    h = host(ws.sim.connect(), HOST)
    assert h.config.lockdownMode == "lockdownNormal"
    assert list(h.configManager.hostAccessManager.QueryLockdownExceptions()) == ["svc-backup"]


def test_vswitch_and_portgroup_security(ws, capsys):
    si = ws.sim.connect()
    h = host(si, HOST)
    network = h.configManager.networkSystem
    vswitch = next(v for v in network.networkInfo.vswitch if v.name == "vSwitch0")
    spec = vswitch.spec
    spec.policy.security.allowPromiscuous = True
    network.UpdateVirtualSwitch(vswitchName="vSwitch0", spec=spec)
    portgroup = next(p for p in network.networkInfo.portgroup if p.spec.vswitchName == "vSwitch0")
    pg_spec = portgroup.spec
    pg_spec.policy.security = vim.host.NetworkPolicy.SecurityPolicy(macChanges=True)
    network.UpdatePortGroup(pgName=pg_spec.name, portgrp=pg_spec)
    ws.policy("net", """
        selector: {hosts: ["*"]}
        networkSecurity: {allowPromiscuous: false, macChanges: false, forgedTransmits: false}
    """)
    first = converge(ws, capsys, name=HOST, path="networkSecurity.allowPromiscuous")
    assert first.changes(name=HOST, path="networkSecurity.macChanges", subject=f"portgroup {pg_spec.name}")
    info = host(si, HOST).configManager.networkSystem.networkInfo
    sec = next(v for v in info.vswitch if v.name == "vSwitch0").spec.policy.security
    assert (sec.allowPromiscuous, sec.macChanges, sec.forgedTransmits) == (False, False, False)
    computed = next(p for p in info.portgroup if p.spec.name == pg_spec.name).computedPolicy.security
    assert computed.macChanges is False


def test_excluded_portgroup_is_left_alone(ws, capsys):
    si = ws.sim.connect()
    network = host(si, HOST).configManager.networkSystem
    portgroup = next(p for p in network.networkInfo.portgroup if p.spec.vswitchName == "vSwitch0")
    pg_spec = portgroup.spec
    pg_spec.policy.security = vim.host.NetworkPolicy.SecurityPolicy(allowPromiscuous=True)
    network.UpdatePortGroup(pgName=pg_spec.name, portgrp=pg_spec)
    ws.policy("net", f"""
        selector: {{hosts: ["{HOST}"]}}
        networkSecurity: {{allowPromiscuous: false, excludePortgroups: ["{pg_spec.name}"]}}
    """)
    run = ws.vsr(capsys, "apply")
    assert not run.changes(subject=f"portgroup {pg_spec.name}")
    info = host(si, HOST).configManager.networkSystem.networkInfo
    assert next(p for p in info.portgroup if p.spec.name == pg_spec.name).spec.policy.security.allowPromiscuous is True


def test_distributed_portgroup_security(ws, capsys):
    si = ws.sim.connect()
    pg = by_name(si, vim.dvs.DistributedVirtualPortgroup, "DC0_DVPG0")
    security = vim.dvs.VmwareDistributedVirtualSwitch.SecurityPolicy(
        allowPromiscuous=vim.BoolPolicy(inherited=False, value=True),
        macChanges=vim.BoolPolicy(inherited=False, value=False),
        forgedTransmits=vim.BoolPolicy(inherited=False, value=False))
    spec = vim.dvs.DistributedVirtualPortgroup.ConfigSpec(
        configVersion=pg.config.configVersion,
        defaultPortConfig=vim.dvs.VmwareDistributedVirtualSwitch.VmwarePortConfigPolicy(securityPolicy=security))
    WaitForTask(pg.ReconfigureDVPortgroup_Task(spec=spec))
    ws.policy("dv", """
        selector: {datacenters: ["DC0"]}
        networkSecurity: {allowPromiscuous: false, distributedPortgroups: ["DC0_DVPG*"]}
    """)
    converge(ws, capsys, name="DC0_DVPG0", path="networkSecurity.allowPromiscuous")
    pg = by_name(si, vim.dvs.DistributedVirtualPortgroup, "DC0_DVPG0")
    assert pg.config.defaultPortConfig.securityPolicy.allowPromiscuous.value is False
    assert pg.config.name == "DC0_DVPG0", "a partial reconfigure must not blank other fields"
