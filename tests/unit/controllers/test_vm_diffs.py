"""Pure diff logic of the VM controllers, on pyVmomi data objects (no server)."""

import datetime as dt

from pyVmomi import vim

from reconciler.controllers.contract import Impact, ObjectState, Skip
from reconciler.controllers.vm_advanced import VMAdvancedSettings, same, to_vsphere
from reconciler.controllers.vm_boot import VMSecureBoot
from reconciler.controllers.vm_devices import VMDevices
from reconciler.controllers.vm_encryption import VMEncryption, choose_provider
from reconciler.controllers.vm_hardware import VMHardwareVersion
from reconciler.events.model import ObjectRef

REF = ObjectRef("VirtualMachine", "vm-1", "web-01", "lab")
BOOT = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)


def vm(power="poweredOff", **props):
    return ObjectState(REF, {"runtime.powerState": power, "runtime.bootTime": BOOT, **props})


def test_extra_config_values_as_vsphere_stores_them():
    assert to_vsphere(True) == "TRUE" and to_vsphere(False) == "FALSE" and to_vsphere(900) == "900"
    assert same("true", True) and same("TRUE", "true") and not same("FALSE", True)
    assert not same(None, "TRUE") and same("900", 900) and not same("abc", "ABC")


def test_extra_config_diff_and_pending_power_cycle():
    c = VMAdvancedSettings()
    key = ("advancedSettings", "isolation.tools.copy.disable")
    opts = [vim.option.OptionValue(key="isolation.tools.copy.disable", value="false")]
    (d,) = c.diff({key: True}, vm("poweredOn", **{"config.extraConfig": opts}))
    assert (d.current, d.desired, d.impact, d.skip) == ("false", "TRUE", Impact.POWER_CYCLE, None)
    assert "next cold start" in d.message
    done = [vim.option.OptionValue(key="isolation.tools.copy.disable", value="TRUE")]
    state = vm("poweredOn", **{"config.extraConfig": done})
    assert c.diff({key: True}, state) == []
    state.remediated_at = {key: BOOT + dt.timedelta(hours=1)}
    (pending,) = c.diff({key: True}, state)
    assert pending.skip is Skip.PENDING_POWER_CYCLE
    state.remediated_at = {key: BOOT - dt.timedelta(hours=1)}
    assert c.diff({key: True}, state) == [], "powered on since the change: effective"


def devices(*devs):
    return {"config.hardware.device": list(devs)}


def cdrom(connected):
    return vim.vm.device.VirtualCdrom(key=3000, deviceInfo=vim.Description(label="CD/DVD drive 1", summary=""),
                                      connectable=vim.vm.device.VirtualDevice.ConnectInfo(
                                          connected=connected, startConnected=connected, allowGuestControl=True))


def floppy():
    return vim.vm.device.VirtualFloppy(key=8000, deviceInfo=vim.Description(label="Floppy drive 1", summary=""))


def test_devices_gate_by_power_state_and_mode():
    c = VMDevices()
    desired = {("devices", "floppy"): "absent", ("devices", "cdrom"): "disconnected"}
    off = c.diff(desired, vm("poweredOff", **devices(floppy(), cdrom(True))))
    assert sorted((d.path[1], d.skip) for d in off) == [("cdrom", None), ("floppy", None)]
    on = {d.path[1]: d for d in c.diff(desired, vm("poweredOn", **devices(floppy(), cdrom(True))))}
    assert on["floppy"].skip is Skip.NEEDS_POWER_OFF and on["cdrom"].skip is None, "disconnect works hot"
    allowed = c.diff({**desired, ("powerCycle",): "Allowed"}, vm("poweredOn", **devices(floppy())))
    assert allowed[0].skip is None
    never = c.diff({**desired, ("powerCycle",): "Never"}, vm("poweredOff", **devices(floppy())))
    assert never[0].skip is Skip.NEEDS_POWER_OFF
    assert c.diff(desired, vm(**devices(cdrom(False)))) == []


def test_secure_boot_never_switches_firmware_silently():
    c = VMSecureBoot()
    bios = vm(**{"config.firmware": "bios", "config.bootOptions": vim.vm.BootOptions(efiSecureBootEnabled=False)})
    (d,) = c.diff({("secureBoot",): True}, bios)
    assert d.skip is Skip.NEEDS_FIRMWARE_CHANGE
    (d,) = c.diff({("secureBoot",): True, ("allowFirmwareChange",): True}, bios)
    assert d.skip is None and "bios -> efi" in d.subject
    efi = vm(**{"config.firmware": "efi", "config.bootOptions": vim.vm.BootOptions(efiSecureBootEnabled=True)})
    assert c.diff({("secureBoot",): True}, efi) == []


def test_hardware_floor_never_downgrades():
    c = VMHardwareVersion()
    assert c.diff({("minHardwareVersion",): 19}, vm(**{"config.version": "vmx-21"})) == []
    (d,) = c.diff({("minHardwareVersion",): 19}, vm(**{"config.version": "vmx-14"}))
    assert (d.current, d.desired) == ("vmx-14", "vmx-19")
    (d,) = c.diff({("minHardwareVersion",): 19}, vm("poweredOn", **{"config.version": "vmx-14"}))
    assert d.skip is Skip.NEEDS_POWER_OFF


def test_encryption_provider_choice_and_unsupported_without_kms():
    assert choose_provider([("kms-a", False), ("kms-b", True)], None) == ("kms-b", "")
    assert choose_provider([("kms-a", False)], None) == ("kms-a", "")
    assert choose_provider([("kms-a", False), ("kms-b", False)], None)[0] is None
    assert "not registered" in choose_provider([("kms-a", True)], "other")[1]
    c = VMEncryption()
    state = vm(**{"config.keyId": None})
    state.own("vmEncryption")["key_provider"] = choose_provider([], None)
    (d,) = c.diff({("encryption", "required"): True}, state)
    assert d.skip is Skip.UNSUPPORTED and "no key provider" in d.message
    state.own("vmEncryption")["key_provider"] = ("kms-a", "")
    (d,) = c.diff({("encryption", "required"): True}, state)
    assert d.skip is None
    assert c.diff({("encryption", "required"): False}, state) == []
