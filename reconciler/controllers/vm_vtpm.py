"""Virtual TPM presence: `vtpm: required|absent`.

`required` adds a VirtualTPM device. ESXi needs EFI firmware for it (a BIOS VM is reported `needsFirmwareChange`:
`secureBoot: true` with `allowFirmwareChange: true` switches the firmware, and the vTPM follows on the next pass)
and an encrypted VM home: an unencrypted VM is encrypted in the same reconfigure with a key from the key provider
(vCenter's default, or the only one registered: a KMIP cluster or a vSphere Native Key Provider). Without a key
provider the drift is reported `unsupported` with the reason. Applied after `encryption` (order 160): a VM the
encryption controller encrypts in the same pass is not encrypted twice (the key is looked up again at apply). `absent` removes the vTPM. Both need the VM powered
off (a vTPM cannot be hot-plugged), gated by `powerCycle`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers.contract import FieldDiff, FieldPath, Impact, ObjectState, Skip
from reconciler.controllers.vm_common import VMController, config_spec, gate, reconfigure
from reconciler.controllers.vm_encryption import choose_provider, key_providers
from reconciler.vsphere.protocol import Connection

VTPM: FieldPath = ("vtpm",)


def tpms(state: ObjectState) -> list[Any]:
    return [d for d in state.props.get("config.hardware.device") or [] if isinstance(d, vim.vm.device.VirtualTPM)]


class VMVirtualTPM(VMController):
    name = "vmVirtualTPM"
    order = 160  # after secure boot (firmware), the hardware upgrade and encryption
    spec_key = "vtpm"
    properties = ("config.hardware.device", "config.firmware", "config.keyId", "runtime.powerState")

    def prefetch(self, conn: Connection, states: list[ObjectState], desired: Mapping[str, Mapping[FieldPath, Any]]) -> None:
        """The key providers, once per plan, only if some VM needs a vTPM."""
        if not any(d.get(VTPM) == "required" for d in desired.values()):
            return
        providers = key_providers(conn)
        for state in states:
            state.own(self.name)["key_provider"] = choose_provider(providers, None)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        want = desired.get(VTPM)
        present = bool(tpms(state))
        if want is None or present == (want == "required"):
            return []
        current = "present" if present else "absent"
        if want == "absent":
            return [gate(FieldDiff(VTPM, current, want, impact=Impact.POWER_CYCLE), state, desired)]
        firmware = str(state.props.get("config.firmware") or "bios")
        if firmware != "efi":
            return [FieldDiff(VTPM, current, want, impact=Impact.POWER_CYCLE, skip=Skip.NEEDS_FIRMWARE_CHANGE,
                              message=f"firmware is {firmware}; a vTPM needs EFI (secureBoot: true with "
                                      "allowFirmwareChange: true switches it)")]
        subject = ""
        if state.props.get("config.keyId") is None:
            provider, reason = state.own(self.name).get("key_provider", (None, "key providers were not read"))
            if provider is None:
                return [FieldDiff(VTPM, current, want, impact=Impact.POWER_CYCLE, skip=Skip.UNSUPPORTED,
                                  message=f"a vTPM needs an encrypted VM home and the VM cannot be encrypted: {reason}")]
            subject = f"encrypts the VM home with key provider {provider}"
        return [gate(FieldDiff(VTPM, current, want, subject=subject, impact=Impact.POWER_CYCLE), state, desired)]

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        (d,) = diffs
        if d.desired == "absent":
            changes = [vim.vm.device.VirtualDeviceSpec(operation="remove", device=t) for t in tpms(state)]
            reconfigure(conn, state.mo, config_spec(deviceChange=changes))
            return
        spec = config_spec(deviceChange=[vim.vm.device.VirtualDeviceSpec(operation="add",
                                                                         device=vim.vm.device.VirtualTPM(key=-1))])
        if state.mo.config.keyId is None:  # read again: encryption (order 150) may just have encrypted it
            provider, _ = state.own(self.name)["key_provider"]
            result = conn.call(conn.content.cryptoManager.GenerateKey,
                               keyProvider=vim.encryption.KeyProviderId(id=provider))
            if not getattr(result, "success", True) or result.keyId is None:
                raise RuntimeError(f"key provider {provider} did not generate a key: {getattr(result, 'reason', '')}")
            spec.crypto = vim.encryption.CryptoSpecEncrypt(cryptoKeyId=result.keyId)
        reconfigure(conn, state.mo, spec)
