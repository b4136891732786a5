"""Pure diff logic of the issue-16 VM controllers: options, the new device classes, vTPM (no server)."""

from pyVmomi import vim

from reconciler.controllers.contract import Impact, ObjectState, Skip
from reconciler.controllers.vm_devices import VMDevices
from reconciler.controllers.vm_ft_encryption import VMFtEncryption
from reconciler.controllers.vm_logging import VMLogging
from reconciler.controllers.vm_vmotion import VMMigrateEncryption
from reconciler.controllers.vm_vtpm import VTPM, VMVirtualTPM
from reconciler.events.model import ObjectRef

REF = ObjectRef("VirtualMachine", "vm-1", "web-01", "lab")


def vm(power="poweredOff", **props):
    return ObjectState(REF, {"runtime.powerState": power, **props})


def test_options_compare_as_read_and_never_need_a_power_cycle():
    (d,) = VMLogging().diff({("enableLogging",): True}, vm("poweredOn", **{"config.flags": vim.vm.FlagInfo()}))
    assert (d.current, d.desired, d.impact, d.skip) == (None, True, Impact.NONE, None)
    on = vm(**{"config.flags": vim.vm.FlagInfo(enableLogging=True)})
    assert VMLogging().diff({("enableLogging",): True}, on) == []
    (m,) = VMMigrateEncryption().diff({("migrateEncryption",): "required"},
                                      vm("poweredOn", **{"config.migrateEncryption": "opportunistic"}))
    assert (m.current, m.desired, m.skip) == ("opportunistic", "required", None)
    assert VMMigrateEncryption().diff({}, vm(**{"config.migrateEncryption": "disabled"})) == []
    (f,) = VMFtEncryption().diff({("ftEncryptionMode",): "ftEncryptionRequired"},
                                 vm("poweredOn", **{"config.ftEncryptionMode": "ftEncryptionOpportunistic"}))
    assert (f.current, f.desired, f.skip) == ("ftEncryptionOpportunistic", "ftEncryptionRequired", None)
    assert VMFtEncryption().diff({("ftEncryptionMode",): "ftEncryptionRequired"},
                                 vm(**{"config.ftEncryptionMode": "ftEncryptionRequired"})) == []
    assert VMFtEncryption().spec("ftEncryptionRequired").ftEncryptionMode == "ftEncryptionRequired"


def devices(*devs):
    return {"config.hardware.device": list(devs)}


def test_sound_cards_of_every_kind_and_passthrough_are_found():
    state = vm(**devices(vim.vm.device.VirtualHdAudioCard(key=1), vim.vm.device.VirtualSoundBlaster16(key=2),
                         vim.vm.device.VirtualPCIPassthrough(key=3)))
    got = {d.path[1]: d for d in VMDevices().diff({("devices", "sound"): "absent",
                                                    ("devices", "pciPassthrough"): "absent"}, state)}
    assert set(got) == {"sound", "pciPassthrough"} and all(d.impact is Impact.POWER_CYCLE for d in got.values())
    assert got["sound"].subject == "vim.vm.device.VirtualHdAudioCard 1, vim.vm.device.VirtualSoundBlaster16 2"


def test_a_sata_controller_is_held_by_a_device_the_policy_keeps():
    ahci = vim.vm.device.VirtualAHCIController(key=15000)
    cd = vim.vm.device.VirtualCdrom(key=16000, controllerKey=15000)
    (held,) = VMDevices().diff({("devices", "sata"): "absent", ("devices", "cdrom"): "disconnected"},
                               vm(**devices(ahci, cd)))
    assert held.skip is Skip.UNSUPPORTED and "VirtualCdrom 16000" in held.message
    both = VMDevices().diff({("devices", "sata"): "absent", ("devices", "cdrom"): "absent"}, vm(**devices(ahci, cd)))
    assert {d.path[1]: d.skip for d in both} == {"sata": None, "cdrom": None}


def test_only_independent_nonpersistent_disks_drift():
    def disk(key, mode):
        return vim.vm.device.VirtualDisk(key=key, backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(diskMode=mode))
    state = vm("poweredOn", **devices(disk(1, "persistent"), disk(2, "independent_persistent"),
                                      disk(3, "independent_nonpersistent")))
    (d,) = VMDevices().diff({("devices", "nonpersistentDisks"): "absent", ("powerCycle",): "IfPoweredOff"}, state)
    assert (d.subject, d.desired, d.skip) == ("vim.vm.device.VirtualDisk 3", "persistent", Skip.NEEDS_POWER_OFF)
    listed = {("devices", "nonpersistentDisks"): "absent", ("devices", "nonpersistentAllowed"): ["*Disk 3"]}
    assert VMDevices().diff(listed, state) == [], "a listed disk may stay independent_nonpersistent"


def test_vtpm_needs_efi_then_a_key_provider_unless_already_encrypted():
    c = VMVirtualTPM()
    (bios,) = c.diff({VTPM: "required"}, vm(**{"config.firmware": "bios"}))
    assert bios.skip is Skip.NEEDS_FIRMWARE_CHANGE
    efi = vm(**{"config.firmware": "efi"})
    efi.own(c.name)["key_provider"] = (None, "no key provider registered in vCenter")
    (none,) = c.diff({VTPM: "required"}, efi)
    assert none.skip is Skip.UNSUPPORTED and "no key provider" in none.message
    key = vim.encryption.CryptoKeyId(keyId="k", providerId=vim.encryption.KeyProviderId(id="nkp"))
    encrypted = vm(**{"config.firmware": "efi", "config.keyId": key})
    (ok,) = c.diff({VTPM: "required"}, encrypted)
    assert (ok.skip, ok.subject, ok.impact) == (None, "", Impact.POWER_CYCLE), "an encrypted VM needs no provider"
    with_tpm = vm("poweredOn", **devices(vim.vm.device.VirtualTPM(key=11000)))
    assert c.diff({VTPM: "required"}, with_tpm) == []
    (gone,) = c.diff({VTPM: "absent", ("powerCycle",): "IfPoweredOff"}, with_tpm)
    assert (gone.current, gone.skip) == ("present", Skip.NEEDS_POWER_OFF)
