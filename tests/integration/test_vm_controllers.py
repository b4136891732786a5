"""Every VM controller end to end against the simulator, for powered-on and powered-off VMs and each
`powerCycle` mode: drift -> plan (exit 2) -> apply -> read back -> plan (exit 0)."""

from __future__ import annotations

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim

from harness import Workspace, by_name

pytestmark = pytest.mark.integration

VM = "DC0_C0_H0_VM0"
OTHER = "DC0_C0_H1_VM0"  # another host's first VM: both lack isolation settings under -drift
COPY = "isolation.tools.copy.disable"


@pytest.fixture
def ws(tmp_path, fresh_sim):
    return Workspace(tmp_path, fresh_sim)


def vm(si, name=VM):
    return by_name(si, vim.VirtualMachine, name)


def power_off(si, name=VM):
    machine = vm(si, name)
    if machine.runtime.powerState == "poweredOn":
        WaitForTask(machine.PowerOffVM_Task())
    return machine


def power_on(si, name=VM):
    WaitForTask(vm(si, name).PowerOnVM_Task())


def extra(si, key, name=VM):
    return next((o.value for o in vm(si, name).config.extraConfig if o.key == key), None)


def set_extra(si, key, value, name=VM):
    WaitForTask(vm(si, name).ReconfigVM_Task(spec=vim.vm.ConfigSpec(
        extraConfig=[vim.option.OptionValue(key=key, value=value)])))


def add_floppy(si, name=VM):
    spec = vim.vm.ConfigSpec(deviceChange=[vim.vm.device.VirtualDeviceSpec(
        operation="add", device=vim.vm.device.VirtualFloppy(key=-1))])
    WaitForTask(vm(si, name).ReconfigVM_Task(spec=spec))


def floppies(si, name=VM):
    return [d for d in vm(si, name).config.hardware.device if isinstance(d, vim.vm.device.VirtualFloppy)]


def vm_policy(ws, body, name="vm"):
    ws.policy(name, f'selector: {{vms: ["{VM}"]}}\n{body}', kind="VMSecurityPolicy")


def test_extra_config_on_powered_off_vm(ws, capsys):
    si = ws.sim.connect()
    power_off(si)
    set_extra(si, COPY, "FALSE")
    vm_policy(ws, f'advancedSettings: {{{COPY}: true, "RemoteDisplay.maxConnections": 1}}\n')
    first = ws.vsr(capsys, "plan")
    assert first.code == 2 and first.changes(name=VM, path=f"advancedSettings.{COPY}")[0]["desired"] == "TRUE"
    assert ws.vsr(capsys, "apply").code == 0
    assert extra(si, COPY) == "TRUE" and extra(si, "RemoteDisplay.maxConnections") == "1"
    assert [o.key for o in vm(si).config.extraConfig].count(COPY) == 1, "updated in place, not appended"
    again = ws.vsr(capsys, "plan")
    assert again.code == 0 and again.json["changes"] == []


def test_extra_config_on_running_vm_is_pending_until_cold_start(ws, capsys):
    si = ws.sim.connect()
    assert vm(si).runtime.powerState == "poweredOn"
    set_extra(si, COPY, "FALSE")
    vm_policy(ws, f"advancedSettings: {{{COPY}: true}}\n")
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0 and "next cold start" in applied.changes(name=VM)[0]["message"]
    assert extra(si, COPY) == "TRUE"
    pending = ws.vsr(capsys, "plan")
    assert pending.code == 0, "pending power cycle is not drift"
    assert pending.changes(name=VM)[0]["reason"] == "pendingPowerCycle"
    power_off(si)
    power_on(si)
    assert ws.vsr(capsys, "plan").json["changes"] == []


def test_devices_removed_when_powered_off_and_pending_when_running(ws, capsys):
    si = ws.sim.connect()
    power_off(si)
    add_floppy(si)
    power_off(si, OTHER)
    add_floppy(si, OTHER)
    power_on(si, OTHER)
    ws.policy("vm", f'selector: {{vms: ["{VM}", "{OTHER}"]}}\ndevices: {{floppy: absent}}\n', kind="VMSecurityPolicy")
    run = ws.vsr(capsys, "apply")
    assert run.code == 0, "the running VM's floppy is pending a power-off: exit 0 without --strict (issue 14)"
    assert run.changes(name=VM)[0]["outcome"] == "applied" and not floppies(si)
    (running,) = run.changes(name=OTHER)
    assert running["reason"] == "needsPowerOff" and floppies(si, OTHER)
    power_off(si, OTHER)
    assert ws.vsr(capsys, "apply").code == 0 and not floppies(si, OTHER)


def test_power_cycle_never_leaves_even_a_powered_off_vm(ws, capsys):
    si = ws.sim.connect()
    power_off(si)
    add_floppy(si)
    vm_policy(ws, "devices: {floppy: absent}\npowerCycle: Never\n")
    run = ws.vsr(capsys, "apply")
    assert run.code == 0 and run.changes(name=VM)[0]["reason"] == "needsPowerOff" and floppies(si)  # pending


def test_power_cycle_allowed_shuts_down_applies_and_powers_on(ws, capsys):
    si = ws.sim.connect()
    power_off(si)
    add_floppy(si)
    power_on(si)
    vm_policy(ws, "devices: {floppy: absent}\npowerCycle: Allowed\n")
    run = ws.vsr(capsys, "apply")
    assert run.code == 0, run.out
    assert not floppies(si) and vm(si).runtime.powerState == "poweredOn"


def test_cdrom_disconnected_on_running_vm(ws, capsys):
    si = ws.sim.connect()
    machine = vm(si)
    cdrom = next((d for d in machine.config.hardware.device if isinstance(d, vim.vm.device.VirtualCdrom)), None)
    if cdrom is None:
        pytest.skip("the simulator's VM has no CD-ROM")
    cdrom.connectable.connected = True
    cdrom.connectable.startConnected = True
    WaitForTask(machine.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[
        vim.vm.device.VirtualDeviceSpec(operation="edit", device=cdrom)])))
    vm_policy(ws, "devices: {cdrom: disconnected}\n")
    assert ws.vsr(capsys, "apply").code == 0
    cdrom = next(d for d in vm(si).config.hardware.device if isinstance(d, vim.vm.device.VirtualCdrom))
    assert not cdrom.connectable.connected and not cdrom.connectable.startConnected


def test_secure_boot_needs_explicit_firmware_change(ws, capsys):
    si = ws.sim.connect()
    power_off(si)
    assert vm(si).config.firmware != "efi"
    vm_policy(ws, "secureBoot: true\n")
    run = ws.vsr(capsys, "apply")
    assert run.code == 2 and run.changes(name=VM)[0]["reason"] == "needsFirmwareChange"
    assert vm(si).config.firmware != "efi"
    vm_policy(ws, "secureBoot: true\nallowFirmwareChange: true\n")
    assert ws.vsr(capsys, "apply").code == 0
    machine = vm(si)
    assert machine.config.firmware == "efi" and machine.config.bootOptions.efiSecureBootEnabled is True


def test_hardware_version_floor(ws, capsys):
    si = ws.sim.connect()
    power_off(si)
    before = int(vm(si).config.version.split("-")[1])
    floor = max(before + 1, 19)
    vm_policy(ws, f"minHardwareVersion: {floor}\n")
    first = ws.vsr(capsys, "plan")
    assert first.code == 2 and first.changes(name=VM)[0]["desired"] == f"vmx-{floor}"
    assert ws.vsr(capsys, "apply").code == 0
    assert vm(si).config.version == f"vmx-{floor}"


def test_encryption_without_and_with_a_key_provider(ws, capsys):
    si = ws.sim.connect()
    power_off(si)
    vm_policy(ws, "encryption: {required: true}\n")
    run = ws.vsr(capsys, "apply")
    (change,) = run.changes(name=VM)
    assert change["reason"] == "unsupported" and "no key provider" in change["message"]
    manager = si.RetrieveContent().cryptoManager
    provider = vim.encryption.KeyProviderId(id="kms-lab")
    manager.RegisterKmipServer(server=vim.encryption.KmipServerSpec(
        clusterId=provider, info=vim.encryption.KmipServerInfo(name="kms1", address="192.0.2.10", port=5696)))
    manager.MarkDefault(clusterId=provider)
    assert ws.vsr(capsys, "apply").code == 0
    key = vm(si).config.keyId
    assert key is not None and key.providerId.id == "kms-lab"


def test_a_vm_whose_reconfigure_faults_does_not_stop_the_others(tmp_path, sim_factory, capsys):
    sim = sim_factory("-drift", "-fail", f"ReconfigVM_Task@{VM}:1.0:SystemError")
    ws = Workspace(tmp_path, sim)  # -drift: every host's first VM lacks its isolation settings
    ws.policy("vm", f'selector: {{vms: ["{VM}", "{OTHER}"]}}\nadvancedSettings: {{{COPY}: true}}\n',
              kind="VMSecurityPolicy")
    run = ws.vsr(capsys, "apply")
    assert run.code == 1
    assert run.changes(name=VM)[0]["outcome"] == "failed"
    assert run.changes(name=OTHER)[0]["outcome"] == "applied"


def test_unmanaged_vms_are_listed(ws, capsys):
    vm_policy(ws, f"advancedSettings: {{{COPY}: true}}\n")
    run = ws.vsr(capsys, "plan")
    names = {r["name"] for r in run.json["unmanaged"] if r["type"] == "VirtualMachine"}
    assert OTHER in names and VM not in names
