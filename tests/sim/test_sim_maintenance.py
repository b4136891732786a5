"""Maintenance mode and host reboot in the simulator (sim/maintenance.go): VM evacuation within the cluster,
refusal when no host can take the VMs, reboot only in maintenance mode, notResponding while rebooting, pending
esxcli settings in effect after the reboot, property updates for all of it."""

from __future__ import annotations

import time

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from simulator import PropertyWatch, start_simulator
from test_sim_esxcli import Soap, cli, hosts_by_name, mme_of

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def vc():
    # cluster DC0_C0 of 3 hosts with 2 powered-on VMs each; standalone host DC0_H0 with 2 VMs
    handle = start_simulator("-host", "3", "-reboot-seconds", "0.5")
    si = handle.connect()
    yield si, Soap(handle, si), hosts_by_name(si)
    handle.stop()


def task_fault(task) -> vim.MethodFault:
    with pytest.raises(vim.MethodFault) as exc:
        WaitForTask(task)
    return exc.value


def powered_on(host) -> set[str]:
    return {vm.name for vm in host.vm if vm.runtime.powerState == "poweredOn"}


def test_enter_evacuates_powered_on_vms_round_robin_and_exit_clears_the_flag(vc):
    si, _, hosts = vc
    h0, h1, h2 = hosts["DC0_C0_H0"], hosts["DC0_C0_H1"], hosts["DC0_C0_H2"]
    moving = powered_on(h0)
    assert len(moving) == 2
    with PropertyWatch(si, h0, ["runtime.inMaintenanceMode"]) as w:
        assert w.initial == {"runtime.inMaintenanceMode": False}
        WaitForTask(h0.EnterMaintenanceMode_Task(timeout=0))
        changes, _ = w.wait(1)
        assert changes == {"runtime.inMaintenanceMode": True}
        assert powered_on(h0) == set()
        # one VM to each other host of the cluster, and the VMs say where they run
        assert len(moving & powered_on(h1)) == 1 and len(moving & powered_on(h2)) == 1
        by_name = {vm.name: vm for vm in h1.vm + h2.vm}
        assert {by_name[n].runtime.host for n in moving} == {h1, h2}
        WaitForTask(h0.ExitMaintenanceMode_Task(timeout=0))
        changes, _ = w.wait(1)
        assert changes == {"runtime.inMaintenanceMode": False}


def test_enter_refuses_when_no_other_host_can_take_the_vms(vc):
    _, _, hosts = vc
    h0, h1, h2 = hosts["DC0_C0_H0"], hosts["DC0_C0_H1"], hosts["DC0_C0_H2"]
    WaitForTask(h0.EnterMaintenanceMode_Task(timeout=0))
    WaitForTask(h1.EnterMaintenanceMode_Task(timeout=0))  # its VMs go to H2, the last host available
    try:
        assert powered_on(h1) == set() and powered_on(h2)
        flt = task_fault(h2.EnterMaintenanceMode_Task(timeout=0))
        assert isinstance(flt, vim.fault.InvalidState)
        assert "no other connected host in the cluster" in flt.msg
        assert h2.runtime.inMaintenanceMode is False and powered_on(h2)
    finally:
        WaitForTask(h1.ExitMaintenanceMode_Task(timeout=0))
        WaitForTask(h0.ExitMaintenanceMode_Task(timeout=0))
    standalone = hosts["DC0_H0"]
    assert powered_on(standalone)
    assert isinstance(task_fault(standalone.EnterMaintenanceMode_Task(timeout=0)), vim.fault.InvalidState)
    assert standalone.runtime.inMaintenanceMode is False


def test_reboot_needs_maintenance_mode_goes_not_responding_and_applies_pending_settings(vc):
    si, soap, hosts = vc
    h = hosts["DC0_C0_H0"]
    flt = task_fault(h.RebootHost_Task(force=False))
    assert isinstance(flt, vim.fault.InvalidState) and "not in maintenance mode" in flt.msg
    mme = mme_of(soap, h)
    cli(soap, mme, "system tls server set", {"profile": "NIST_2024"})
    cli(soap, mme, "system settings kernel set", {"setting": "entropySources", "value": "3"})
    assert cli(soap, mme, "system tls server get").struct()["RebootRequired"] == "true"
    boot_before = h.runtime.bootTime
    WaitForTask(h.EnterMaintenanceMode_Task(timeout=0))
    with PropertyWatch(si, h, ["runtime.connectionState"]) as w:
        started = time.monotonic()
        WaitForTask(h.RebootHost_Task(force=False))
        changes, _ = w.wait(1)
        assert changes == {"runtime.connectionState": "notResponding"}
        assert isinstance(task_fault(h.ExitMaintenanceMode_Task(timeout=0)), vmodl.fault.HostNotConnected)
        changes, _ = w.wait(2)
        assert changes == {"runtime.connectionState": "connected"}
        assert time.monotonic() - started >= 0.5
    assert h.runtime.inMaintenanceMode is True  # survives the reboot, as on ESXi
    assert h.runtime.bootTime > boot_before
    tls = cli(soap, mme, "system tls server get", {"showcurrentbootprofile": "true"}).struct()
    assert (tls["Profile"], tls["RebootRequired"]) == ("NIST_2024", "false")
    row = cli(soap, mme, "system settings kernel list", {"option": "entropySources"}).rows()[0]
    assert (row["Configured"], row["Runtime"]) == ("3", "3")
    WaitForTask(h.ExitMaintenanceMode_Task(timeout=0))
    assert h.runtime.inMaintenanceMode is False
