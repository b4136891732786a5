"""Launcher modes: method delays, fault injection, -drift, -restricted (free ESXi) and -plain (plain vcsim)."""

from __future__ import annotations

import time

import pytest
from pyVim.task import WaitForTask
from pyVmomi import VmomiSupport, vim, vmodl

from simulator import objects_by_name as objects

pytestmark = pytest.mark.integration
LONG = VmomiSupport.vmodlTypes["long"]


def set_option(h, key, value):
    h.configManager.advancedOption.UpdateOptions(changedValue=[vim.option.OptionValue(key=key, value=value)])


def test_method_delay(sim_factory):
    si = sim_factory("-method-delay", "UpdateOptions:400", "-vm-per-host", "0").connect()
    h = objects(si, vim.HostSystem)["DC0_C0_H0"]
    om = h.configManager.advancedOption
    started = time.monotonic()
    om.QueryOptions(name="DCUI.Access")  # not delayed
    assert time.monotonic() - started < 0.4
    started = time.monotonic()
    set_option(h, "UserVars.DcuiTimeOut", LONG(300))
    assert time.monotonic() - started >= 0.4


def test_fail_scoped_to_one_host(sim_factory):
    si = sim_factory("-fail", "UpdateOptions@DC0_C0_H1:1.0", "-vm-per-host", "0").connect()
    hosts = objects(si, vim.HostSystem)
    with pytest.raises(vmodl.fault.HostCommunication):
        set_option(hosts["DC0_C0_H1"], "UserVars.DcuiTimeOut", LONG(300))
    assert hosts["DC0_C0_H1"].configManager.advancedOption.QueryOptions(name="UserVars.DcuiTimeOut")[0].value == 600
    set_option(hosts["DC0_C0_H0"], "UserVars.DcuiTimeOut", LONG(300))
    assert hosts["DC0_C0_H0"].configManager.advancedOption.QueryOptions(name="UserVars.DcuiTimeOut")[0].value == 300


def test_fail_every_nth_task_and_named_fault(sim_factory):
    si = sim_factory("-fail", "ReconfigVM_Task:/2,StartService:1:SystemError").connect()
    vm = objects(si, vim.VirtualMachine)["DC0_H0_VM1"]
    spec = vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key="vsr.n", value="1")])
    WaitForTask(vm.ReconfigVM_Task(spec))
    task = vm.ReconfigVM_Task(spec)
    with pytest.raises(vim.fault.TaskInProgress):
        WaitForTask(task)
    assert task.info.state == "error" and task.info.error.msg == "Another task is already in progress."
    WaitForTask(vm.ReconfigVM_Task(spec))
    h = objects(si, vim.HostSystem)["DC0_H0"]
    with pytest.raises(vmodl.fault.SystemError):
        h.configManager.serviceSystem.StartService(id="TSM-SSH")


def test_drift(sim_factory):
    si = sim_factory("-drift").connect()
    hosts = objects(si, vim.HostSystem)
    drifted, clean = ["DC0_C0_H0", "DC0_C0_H1"], ["DC0_C0_H2", "DC0_H0"]
    for name in drifted + clean:
        h = hosts[name]
        bad = name in drifted
        ssh = next(s for s in h.config.service.service if s.key == "TSM-SSH")
        assert (ssh.running, ssh.policy) == ((True, "on") if bad else (False, "off"))
        vs = next(v for v in h.config.network.vswitch if v.name == "vSwitch0")
        assert vs.spec.policy.security.allowPromiscuous is bad
        pg = next(p for p in h.config.network.portgroup if p.spec.name == "VM Network")
        assert pg.computedPolicy.security.forgedTransmits is bad
        salting = h.configManager.advancedOption.QueryOptions(name="Mem.ShareForceSalting")[0].value
        assert salting == (0 if bad else 2)
        assert {o.key: o.value for o in h.config.option}["Mem.ShareForceSalting"] == salting
    for name, vm in objects(si, vim.VirtualMachine).items():
        keys = {o.key for o in vm.config.extraConfig}
        assert ("isolation.tools.copy.disable" in keys) is (not name.endswith("_VM0"))
    pg = objects(si, vim.dvs.DistributedVirtualPortgroup)["DC0_DVPG0"]
    assert pg.config.defaultPortConfig.securityPolicy.allowPromiscuous.value is True


def test_restricted_free_esxi(sim_factory):
    si = sim_factory("-esx", "-restricted").connect()
    lic = si.RetrieveContent().licenseManager.licenses
    assert [l.editionKey for l in lic] == ["esx.hypervisor.cpuPackageCoreLimited"]
    h = next(iter(objects(si, vim.HostSystem).values()))
    om = h.configManager.advancedOption
    assert om.QueryOptions(name="Mem.ShareForceSalting")[0].value == 2  # reads work
    assert h.config.service.service
    with pytest.raises(vim.fault.RestrictedVersion):
        set_option(h, "Mem.ShareForceSalting", LONG(2))
    with pytest.raises(vim.fault.RestrictedVersion):
        h.configManager.serviceSystem.StopService(id="TSM-SSH")
    vm = objects(si, vim.VirtualMachine)["ha-host_VM0"]
    with pytest.raises(vim.fault.RestrictedVersion):
        vm.ReconfigVM_Task(vim.vm.ConfigSpec(annotation="x"))


def test_plain_vcsim_lacks_the_security_api(sim_factory):
    si = sim_factory("-plain").connect()
    h = objects(si, vim.HostSystem)["DC0_C0_H0"]
    assert si.content.about.apiVersion == "7.0.3.0"
    with pytest.raises(vmodl.fault.ManagedObjectNotFound):
        h.configManager.serviceSystem.serviceInfo
    with pytest.raises(vmodl.fault.ManagedObjectNotFound):
        h.configManager.hostAccessManager.QueryLockdownExceptions()
    with pytest.raises(vmodl.fault.MethodNotFound):
        h.configManager.firewallSystem.UpdateRuleset(id="sshServer", spec=vim.host.Ruleset.RulesetSpec(
            allowedHosts=vim.host.Ruleset.IpList(allIp=True)))
    set_option(h, "Anything.Goes", 1)  # untyped, unknown keys accepted
    vm = objects(si, vim.VirtualMachine)["DC0_C0_H0_VM0"]
    assert "isolation.tools.copy.disable" not in {o.key for o in vm.config.extraConfig}
