"""UEFI secure boot: `secureBoot: true|false`.

Secure boot needs EFI firmware. Switching an installed VM from BIOS to EFI usually makes its guest unbootable, so
vsr never does it silently: without `allowFirmwareChange: true` such a VM is reported `needsFirmwareChange`.
Both changes need the VM powered off (gated by `powerCycle`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers.contract import FieldDiff, FieldPath, Impact, ObjectState, Skip
from reconciler.controllers.vm_common import ALLOW_FIRMWARE_CHANGE, VMController, config_spec, gate, reconfigure
from reconciler.vsphere.protocol import Connection

SECURE_BOOT: FieldPath = ("secureBoot",)


class VMSecureBoot(VMController):
    name = "vmSecureBoot"
    order = 130
    spec_key = "secureBoot"
    properties = ("config.firmware", "config.bootOptions", "runtime.powerState")

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        if SECURE_BOOT not in desired:
            return []
        want = bool(desired[SECURE_BOOT])
        options = state.props.get("config.bootOptions")
        current = bool(getattr(options, "efiSecureBootEnabled", False))
        if current == want:
            return []
        firmware = str(state.props.get("config.firmware") or "bios")
        diff = FieldDiff(SECURE_BOOT, current, want, impact=Impact.POWER_CYCLE)
        if want and firmware != "efi":
            if not desired.get(ALLOW_FIRMWARE_CHANGE, False):
                return [FieldDiff(SECURE_BOOT, current, want, impact=Impact.POWER_CYCLE,
                                  skip=Skip.NEEDS_FIRMWARE_CHANGE,
                                  message=f"firmware is {firmware}; secure boot needs EFI, and switching an installed "
                                          "VM's firmware may leave its guest unbootable (set allowFirmwareChange: true)")]
            diff = FieldDiff(SECURE_BOOT, current, want, subject=f"firmware {firmware} -> efi", impact=Impact.POWER_CYCLE)
        return [gate(diff, state, desired)]

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        (d,) = diffs
        spec = config_spec(bootOptions=vim.vm.BootOptions(efiSecureBootEnabled=bool(d.desired)))
        if d.desired and str(state.props.get("config.firmware") or "bios") != "efi":
            spec.firmware = "efi"
        reconfigure(conn, state.mo, spec)
