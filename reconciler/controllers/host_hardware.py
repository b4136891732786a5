"""Firmware security the host reports in `capability`: a TPM 2.0 (`hardware.tpm2`), UEFI Secure Boot
(`hardware.uefiSecureBoot`) and Intel TXT (`hardware.txt`). Audit only: each is set in the server's firmware
(UEFI setup or the BMC) and takes a reboot; the vSphere API shows them read-only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Skip
from reconciler.vsphere.protocol import Connection

TPM2: FieldPath = ("hardware", "tpm2")
SECURE_BOOT: FieldPath = ("hardware", "uefiSecureBoot")
TXT: FieldPath = ("hardware", "txt")
TPM_SUPPORTED = "capability.tpmSupported"
TPM_VERSION = "capability.tpmVersion"
UEFI_SECURE_BOOT = "capability.uefiSecureBoot"
TXT_ENABLED = "capability.txtEnabled"
CPU_MODEL = "summary.hardware.cpuModel"
FIRMWARE_REASON = "audit only: set in the server's firmware (UEFI setup or BMC), then reboot the host; vsr cannot change it"


@dataclass(frozen=True)
class Firmware:
    """What the host reports; None where it does not say."""

    tpm_supported: bool | None
    tpm_version: str | None
    secure_boot: bool | None
    txt: bool | None
    cpu_model: str | None

    def observed(self, path: FieldPath) -> tuple[Any, bool | None]:
        """(value to show, compliant?) for one field; compliant None when the host does not report it."""
        if path == TPM2:
            if self.tpm_supported is None:
                return None, None
            shown = self.tpm_version if self.tpm_supported else "none"
            return shown, bool(self.tpm_supported) and str(self.tpm_version or "").startswith("2.")
        if path == SECURE_BOOT:
            return self.secure_boot, None if self.secure_boot is None else bool(self.secure_boot)
        if "intel" not in str(self.cpu_model or "").lower():
            return self.txt, True  # "where available": TXT is an Intel feature
        return self.txt, None if self.txt is None else bool(self.txt)


class HostHardware(Controller):
    name = "hardware"
    order = 81  # audit only, beside the certificate (80)
    spec_key = "hardware"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = (TPM_SUPPORTED, TPM_VERSION, UEFI_SECURE_BOOT, TXT_ENABLED, CPU_MODEL)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        firmware = Firmware(state.props.get(TPM_SUPPORTED), state.props.get(TPM_VERSION),
                            state.props.get(UEFI_SECURE_BOOT), state.props.get(TXT_ENABLED), state.props.get(CPU_MODEL))
        out = []
        for path in (TPM2, SECURE_BOOT, TXT):
            if desired.get(path) is not True:  # false or absent: not required
                continue
            shown, compliant = firmware.observed(path)
            if compliant is None:
                out.append(FieldDiff(path, None, True, skip=Skip.UNSUPPORTED,
                                     message=f"the host does not report {_source(path)}"))
            elif not compliant:
                out.append(FieldDiff(path, shown, True, skip=Skip.AUDIT, message=FIRMWARE_REASON))
        return out

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        raise NotImplementedError("hardware.* is audit only")  # diff never yields an actionable change


def _source(path: FieldPath) -> str:
    return {TPM2: TPM_SUPPORTED, SECURE_BOOT: UEFI_SECURE_BOOT}.get(path, TXT_ENABLED)
