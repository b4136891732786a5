"""VM controls of issue 16 end to end against one simulator (shared by the tests; each test uses its own VM):
advancedSettings conditions (absent keys, key patterns, undefined is compliant), enableLogging and
migrateEncryption, and the device classes (sound, PCI passthrough, SATA, nonpersistent disks), each drift ->
plan -> apply -> read back -> plan 0, with the simulator's faults where ESXi refuses a change."""

from __future__ import annotations

import textwrap

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from harness import Workspace, by_name
from simulator import start_simulator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def shared_sim():
    with start_simulator() as handle:
        yield handle


@pytest.fixture
def si(shared_sim):
    return shared_sim.connect()


def ws_for(tmp_path, sim, vm_name: str, body: str) -> Workspace:
    ws = Workspace(tmp_path, sim)
    ws.policy("vm", f'selector: {{vms: ["{vm_name}"]}}\n{textwrap.dedent(body).strip()}', kind="VMSecurityPolicy")
    return ws


def vm(si, name):
    return by_name(si, vim.VirtualMachine, name)


def power_off(si, name):
    machine = vm(si, name)
    if machine.runtime.powerState == "poweredOn":
        WaitForTask(machine.PowerOffVM_Task())
    return machine


def reconfigure(si, name, **spec):
    WaitForTask(vm(si, name).ReconfigVM_Task(spec=vim.vm.ConfigSpec(**spec)))


def extra(si, name):
    return {o.key: o.value for o in vm(si, name).config.extraConfig}


def fault_of(call):
    with pytest.raises(vmodl.MethodFault) as caught:
        call()
    return caught.value


# -- 14: advancedSettings conditions ---------------------------------------------------------------------------

def test_absent_keys_patterns_and_undefined_is_compliant(tmp_path, shared_sim, si, capsys):
    name = "DC0_H0_VM0"
    power_off(si, name)
    reconfigure(si, name, extraConfig=[
        vim.option.OptionValue(key="sched.mem.pshare.salt", value="tenant-a"),
        vim.option.OptionValue(key="ethernet0.filter0.name", value="dvfilter-maclearn"),
        vim.option.OptionValue(key="ethernet0.filter1.name", value="dvfilter-x"),
        vim.option.OptionValue(key="ethernet0.filter0.onFailure", value="failOpen"),
        vim.option.OptionValue(key="log.rotateSize", value="100")])
    ws = ws_for(tmp_path, shared_sim, name, """
        advancedSettings:
          sched.mem.pshare.salt: {absent: true}
          "ethernet*.filter*.name": {absent: true}
          log.keepOld: {value: "10", undefinedIsCompliant: true}
          log.rotateSize: {value: "2048000", undefinedIsCompliant: true}
    """)
    plan = ws.vsr(capsys, "plan")
    assert plan.code == 2, plan.err
    got = {c["path"]: c for c in plan.changes(name=name)}
    assert set(got) == {"advancedSettings.sched.mem.pshare.salt", "advancedSettings.ethernet*.filter*.name",
                        "advancedSettings.log.rotateSize"}, "log.keepOld is undefined: compliant"
    assert (got["advancedSettings.sched.mem.pshare.salt"]["current"],
            got["advancedSettings.sched.mem.pshare.salt"]["desired"]) == ("tenant-a", "absent")
    assert got["advancedSettings.ethernet*.filter*.name"]["subject"] == "ethernet0.filter0.name, ethernet0.filter1.name"
    assert ws.vsr(capsys, "apply").code == 0
    options = extra(si, name)
    assert "sched.mem.pshare.salt" not in options and not any(".name" in k and "filter" in k for k in options)
    assert options["ethernet0.filter0.onFailure"] == "failOpen", "only the keys the pattern names are removed"
    assert options["log.rotateSize"] == "2048000" and "log.keepOld" not in options
    again = ws.vsr(capsys, "plan")
    assert again.code == 0 and again.json["changes"] == []


def test_a_new_vm_has_no_isolation_keys_and_is_compliant_where_undefined_is(tmp_path, shared_sim, si, capsys):
    datacenter = by_name(si, vim.Datacenter, "DC0")
    pool = by_name(si, vim.ClusterComputeResource, "DC0_C0").resourcePool
    spec = vim.vm.ConfigSpec(name="fresh-vm", guestId="otherGuest", numCPUs=1, memoryMB=128,
                             files=vim.vm.FileInfo(vmPathName="[LocalDS_0]"))
    WaitForTask(datacenter.vmFolder.CreateVM_Task(config=spec, pool=pool))
    assert not [k for k in extra(si, "fresh-vm") if k.startswith("isolation.")], "as a real new VM"
    ws = ws_for(tmp_path, shared_sim, "fresh-vm", """
        advancedSettings:
          isolation.tools.copy.disable: {value: "TRUE", undefinedIsCompliant: true}
          isolation.tools.paste.disable: {value: "TRUE", undefinedIsCompliant: true}
          sched.mem.pshare.salt: {absent: true}
    """)
    run = ws.vsr(capsys, "plan")
    assert run.code == 0 and run.json["changes"] == [], run.out
    strict = ws_for(tmp_path / "strict", shared_sim, "fresh-vm", 'advancedSettings: {isolation.tools.copy.disable: "TRUE"}')
    assert strict.vsr(capsys, "plan").code == 2, "without undefinedIsCompliant the missing key is drift"


# -- 12: enableLogging, migrateEncryption ----------------------------------------------------------------------

def test_logging_and_vmotion_encryption_on_a_running_vm(tmp_path, shared_sim, si, capsys):
    name = "DC0_H0_VM1"
    machine = vm(si, name)
    assert machine.runtime.powerState == "poweredOn"
    assert (machine.config.flags.enableLogging, machine.config.migrateEncryption) == (True, "opportunistic")  # defaults
    reconfigure(si, name, flags=vim.vm.FlagInfo(enableLogging=False), migrateEncryption="disabled")
    bad = fault_of(lambda: reconfigure(si, name, migrateEncryption="sometimes"))
    assert isinstance(bad, vmodl.fault.InvalidArgument) and bad.invalidProperty == "spec.migrateEncryption"
    ws = ws_for(tmp_path, shared_sim, name, "enableLogging: true\nmigrateEncryption: required\n")
    plan = ws.vsr(capsys, "plan")
    got = {c["path"]: c for c in plan.changes(name=name)}
    assert plan.code == 2 and (got["enableLogging"]["current"], got["enableLogging"]["desired"]) == (False, True)
    assert (got["migrateEncryption"]["current"], got["migrateEncryption"]["impact"]) == ("disabled", "none")
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0 and {c["outcome"] for c in applied.changes(name=name)} == {"applied"}
    machine = vm(si, name)
    assert (machine.config.flags.enableLogging, machine.config.migrateEncryption) == (True, "required")
    again = ws.vsr(capsys, "plan")
    assert again.code == 0 and again.json["changes"] == []


def test_the_daemon_sees_an_out_of_band_logging_or_vmotion_change_and_remediates(tmp_path, shared_sim, si):
    """config.flags and config.migrateEncryption are watched properties: a change outside vsr is seen through
    the property collector (no poll) and remediated."""
    from harness import wait_for
    from test_daemon import Daemon

    name = "DC0_C0_H0_VM0"
    d = Daemon.for_sim(tmp_path / "d", shared_sim, vm=(
        "apiVersion: vsr.dev/v1alpha1\nkind: VMSecurityPolicy\nmetadata: {name: vm-options}\nspec:\n"
        f'  selector: {{vms: ["{name}"]}}\n  enableLogging: true\n  migrateEncryption: required\n'))
    try:
        d.start().wait_ready()
        wait_for(lambda: vm(si, name).config.migrateEncryption == "required", 10, "first pass applied")
        reconfigure(si, name, flags=vim.vm.FlagInfo(enableLogging=False), migrateEncryption="disabled")
        assert not d.events("DriftRemediated", name, "enableLogging"), "enableLogging was true until now"

        def converged() -> bool:
            machine = vm(si, name)
            return bool(d.events("DriftRemediated", name, "enableLogging")) and (
                machine.config.flags.enableLogging, machine.config.migrateEncryption) == (True, "required")

        wait_for(converged, 5, "remediated well before the periodic resync")
    finally:
        d.stop()


# -- 13: devices -------------------------------------------------------------------------------------------------

def add(device):
    return vim.vm.device.VirtualDeviceSpec(operation="add", device=device)


def of_type(si, name, cls):
    return [d for d in vm(si, name).config.hardware.device if isinstance(d, cls)]


def passthrough(key):
    return vim.vm.device.VirtualPCIPassthrough(key=key, backing=vim.vm.device.VirtualPCIPassthrough.DeviceBackingInfo(
        id="0000:3b:00.0", deviceId="1eb8", systemId="5f1c0a2e-host", vendorId=0x10de, deviceName="GPU"))


def test_sound_passthrough_and_sata_are_removed_when_off_and_refused_hot(tmp_path, shared_sim, si, capsys):
    name = "DC0_C0_H2_VM0"
    power_off(si, name)
    reconfigure(si, name, deviceChange=[
        add(vim.vm.device.VirtualHdAudioCard(key=-1)), add(vim.vm.device.VirtualEnsoniq1371(key=-2)),
        add(passthrough(-3)), add(vim.vm.device.VirtualAHCIController(key=-4, busNumber=0))])
    WaitForTask(vm(si, name).PowerOnVM_Task())
    card = of_type(si, name, vim.vm.device.VirtualHdAudioCard)[0]
    hot = fault_of(lambda: reconfigure(si, name, deviceChange=[
        vim.vm.device.VirtualDeviceSpec(operation="remove", device=card)]))
    assert isinstance(hot, vim.fault.DeviceHotPlugNotSupported) and hot.deviceIndex == 0
    ws = ws_for(tmp_path, shared_sim, name, "devices: {sound: absent, pciPassthrough: absent, sata: absent}")
    running = ws.vsr(capsys, "plan")
    assert running.code == 0 and {c["reason"] for c in running.changes(name=name)} == {"needsPowerOff"}  # pending
    power_off(si, name)
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0 and {c["path"] for c in applied.changes(name=name, outcome="applied")} == {
        "devices.sound", "devices.pciPassthrough", "devices.sata"}
    for cls in (vim.vm.device.VirtualSoundCard, vim.vm.device.VirtualPCIPassthrough, vim.vm.device.VirtualSATAController):
        assert not of_type(si, name, cls), cls
    again = ws.vsr(capsys, "plan")
    assert again.code == 0 and again.json["changes"] == []


def test_a_sata_controller_stays_while_a_kept_cdrom_hangs_on_it(tmp_path, shared_sim, si, capsys):
    name = "DC0_C0_H2_VM1"
    power_off(si, name)
    cdrom = vim.vm.device.VirtualCdrom(key=-11, controllerKey=-10, unitNumber=0,
                                       backing=vim.vm.device.VirtualCdrom.RemotePassthroughBackingInfo(
                                           deviceName="", exclusive=False))
    reconfigure(si, name, deviceChange=[add(vim.vm.device.VirtualAHCIController(key=-10, busNumber=0)), add(cdrom)])
    (controller,) = of_type(si, name, vim.vm.device.VirtualAHCIController)
    refused = fault_of(lambda: reconfigure(si, name, deviceChange=[
        vim.vm.device.VirtualDeviceSpec(operation="remove", device=controller)]))
    assert type(refused) is vim.fault.InvalidDeviceSpec and "still has devices attached" in refused.msg
    kept = ws_for(tmp_path, shared_sim, name, "devices: {sata: absent, cdrom: disconnected}")
    (held,) = kept.vsr(capsys, "plan").changes(name=name, path="devices.sata")
    assert held["reason"] == "unsupported" and "can only be removed with its devices" in held["message"]
    both = ws_for(tmp_path / "both", shared_sim, name, "devices: {sata: absent, cdrom: absent}")
    assert both.vsr(capsys, "apply").code == 0
    assert not of_type(si, name, vim.vm.device.VirtualSATAController)
    assert not of_type(si, name, vim.vm.device.VirtualCdrom), "the CD-ROMs went first, then their controller"
    assert both.vsr(capsys, "plan").json["changes"] == []


def test_independent_nonpersistent_disks_become_persistent(tmp_path, shared_sim, si, capsys):
    name = "DC0_C0_H1_VM1"
    (disk,) = of_type(si, name, vim.vm.device.VirtualDisk)
    disk.backing.diskMode = "independent_nonpersistent"
    edit = [vim.vm.device.VirtualDeviceSpec(operation="edit", device=disk)]
    hot = fault_of(lambda: reconfigure(si, name, deviceChange=edit))
    assert isinstance(hot, vim.fault.DisallowedDiskModeChange) and hot.deviceIndex == 0
    power_off(si, name)
    reconfigure(si, name, deviceChange=edit)
    label = disk.deviceInfo.label
    listed = ws_for(tmp_path / "listed", shared_sim, name,
                    f'devices: {{nonpersistentDisks: absent, nonpersistentAllowed: ["{label}"]}}')
    assert listed.vsr(capsys, "plan").json["changes"] == [], "a listed disk may stay independent_nonpersistent"
    ws = ws_for(tmp_path, shared_sim, name, "devices: {nonpersistentDisks: absent}")
    (change,) = ws.vsr(capsys, "plan").changes(name=name)
    assert (change["current"], change["desired"], change["impact"]) == ("independent_nonpersistent", "persistent",
                                                                          "powerCycle")
    assert ws.vsr(capsys, "apply").code == 0
    assert of_type(si, name, vim.vm.device.VirtualDisk)[0].backing.diskMode == "persistent"
    assert ws.vsr(capsys, "plan").json["changes"] == []


# -- 15: vTPM and the vSphere Native Key Provider (last: it registers a key provider in the shared simulator) --

def test_vtpm_needs_efi_and_a_key_provider_and_a_native_provider_serves(tmp_path, shared_sim, si, capsys):
    name = "DC0_C0_H1_VM0"
    power_off(si, name)
    ws = ws_for(tmp_path, shared_sim, name, "vtpm: required")
    (bios,) = ws.vsr(capsys, "plan").changes(name=name)
    assert bios["reason"] == "needsFirmwareChange" and "needs EFI" in bios["message"]
    tpm = [add(vim.vm.device.VirtualTPM(key=-1))]
    assert isinstance(fault_of(lambda: reconfigure(si, name, deviceChange=tpm)), vim.fault.DeviceUnsupportedForVmPlatform)
    reconfigure(si, name, firmware="efi")
    refused = fault_of(lambda: reconfigure(si, name, deviceChange=tpm))
    assert type(refused) is vim.fault.InvalidDeviceSpec and "encrypted" in refused.msg
    (none,) = ws.vsr(capsys, "plan").changes(name=name)
    assert none["reason"] == "unsupported" and "no key provider registered" in none["message"]

    manager = si.RetrieveContent().cryptoManager
    manager.RegisterKmsCluster(clusterId=vim.encryption.KeyProviderId(id="nkp-1"), managementType="nativeProvider")
    assert [c.clusterId.id for c in manager.ListKmsClusters(includeKmsServers=False)] == ["nkp-1"]
    assert not manager.ListKmipServers(), "a native provider is no KMIP cluster"
    (change,) = ws.vsr(capsys, "plan").changes(name=name)
    assert change["reason"] is None and change["subject"] == "encrypts the VM home with key provider nkp-1"
    assert ws.vsr(capsys, "apply").code == 0
    machine = vm(si, name)
    assert [type(d) for d in machine.config.hardware.device].count(vim.vm.device.VirtualTPM) == 1
    assert machine.config.keyId.providerId.id == "nkp-1"
    assert ws.vsr(capsys, "plan").json["changes"] == []

    WaitForTask(machine.PowerOnVM_Task())
    gone = ws_for(tmp_path / "absent", shared_sim, name, "vtpm: absent")
    (running,) = gone.vsr(capsys, "plan").changes(name=name)
    assert running["reason"] == "needsPowerOff"
    power_off(si, name)
    assert gone.vsr(capsys, "apply").code == 0 and not of_type(si, name, vim.vm.device.VirtualTPM)
    assert gone.vsr(capsys, "plan").json["changes"] == []
