"""Removable and unneeded VM devices: `devices.floppy|serial|parallel|usb: absent`, `devices.cdrom: absent|disconnected`.

Removing a device needs the VM powered off (gated by `powerCycle`); disconnecting a CD-ROM works on a running VM.
`usb: absent` means no USB controller (EHCI+UHCI or xHCI) and no USB device. Reading devices is the most expensive
property of a VM (`config.hardware.device`): it is fetched only when a policy manages `devices`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers.contract import FieldDiff, FieldPath, Impact, ObjectState
from reconciler.controllers.vm_common import VMController, config_spec, gate, reconfigure
from reconciler.vsphere.protocol import Connection

KINDS: dict[str, tuple[type, ...]] = {
    "floppy": (vim.vm.device.VirtualFloppy,),
    "serial": (vim.vm.device.VirtualSerialPort,),
    "parallel": (vim.vm.device.VirtualParallelPort,),
    "usb": (vim.vm.device.VirtualUSBController, vim.vm.device.VirtualUSBXHCIController, vim.vm.device.VirtualUSB),
    "cdrom": (vim.vm.device.VirtualCdrom,),
}


def devices_of(state: ObjectState, kind: str) -> list[Any]:
    return [d for d in state.props.get("config.hardware.device") or [] if isinstance(d, KINDS[kind])]


def label(device: Any) -> str:
    info = getattr(device, "deviceInfo", None)
    return getattr(info, "label", None) or f"{type(device).__name__} {device.key}"


def connected(device: Any) -> bool:
    c = getattr(device, "connectable", None)
    return bool(c and (c.connected or c.startConnected))


class VMDevices(VMController):
    name = "vmDevices"
    order = 120  # before the hardware upgrade and encryption (SCG order)
    spec_key = "devices"
    properties = ("config.hardware.device", "runtime.powerState")

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        diffs: list[FieldDiff] = []
        for path, want in sorted(desired.items()):
            if path[0] != self.spec_key:
                continue
            found = devices_of(state, path[1])
            if want == "disconnected":
                live = [label(d) for d in found if connected(d)]
                if live:
                    diffs.append(FieldDiff(path, "connected", "disconnected", subject=", ".join(live)))
            elif found:
                diff = FieldDiff(path, "present", "absent", subject=", ".join(label(d) for d in found),
                                 impact=Impact.POWER_CYCLE)
                diffs.append(gate(diff, state, desired))
        return diffs

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        changes = []
        for d in diffs:
            kind = d.path[1]
            for device in devices_of(state, kind):
                if d.desired == "disconnected":
                    if not connected(device):
                        continue
                    device.connectable.connected = False
                    device.connectable.startConnected = False
                    changes.append(vim.vm.device.VirtualDeviceSpec(operation="edit", device=device))
                else:
                    changes.append(vim.vm.device.VirtualDeviceSpec(operation="remove", device=device))
        # devices before their controllers: a USB device goes before the USB controller it hangs on
        changes.sort(key=lambda c: isinstance(c.device, (vim.vm.device.VirtualUSBController,
                                                          vim.vm.device.VirtualUSBXHCIController)))
        if changes:
            reconfigure(conn, state.mo, config_spec(deviceChange=changes))
