"""Removable and unneeded VM devices: `devices.floppy|serial|parallel|usb|sound|pciPassthrough|sata: absent`,
`devices.cdrom: absent|disconnected`, `devices.nonpersistentDisks: absent`.

Removing a device needs the VM powered off (gated by `powerCycle`; ESXi answers DeviceHotPlugNotSupported on a
running VM); disconnecting a CD-ROM works on a running VM. `usb: absent` means no USB controller (EHCI+UHCI or
xHCI) and no USB device; `sound` covers HD Audio, Ensoniq 1371 and Sound Blaster 16 cards; `sata` the SATA (AHCI)
controllers, which can only go together with the devices on them (a CD-ROM the policy keeps holds the controller:
reported, not applied). `nonpersistentDisks: absent` changes disks in `independent_nonpersistent` mode to
`persistent` (the SCG/STIG remediation; ESXi changes a disk mode only while the VM is off), except the disks
whose labels `nonpersistentAllowed` lists (globs: `["Hard disk 2"]`). Reading devices is
the most expensive property of a VM (`config.hardware.device`): it is fetched only when a policy manages `devices`."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers.contract import FieldDiff, FieldPath, Impact, ObjectState, Skip
from reconciler.controllers.vm_common import VMController, config_spec, gate, reconfigure
from reconciler.vsphere.protocol import Connection

KINDS: dict[str, tuple[type, ...]] = {
    "floppy": (vim.vm.device.VirtualFloppy,),
    "serial": (vim.vm.device.VirtualSerialPort,),
    "parallel": (vim.vm.device.VirtualParallelPort,),
    "usb": (vim.vm.device.VirtualUSBController, vim.vm.device.VirtualUSBXHCIController, vim.vm.device.VirtualUSB),
    "cdrom": (vim.vm.device.VirtualCdrom,),
    "sound": (vim.vm.device.VirtualSoundCard,),  # VirtualHdAudioCard, VirtualEnsoniq1371, VirtualSoundBlaster16
    "pciPassthrough": (vim.vm.device.VirtualPCIPassthrough,),
    "sata": (vim.vm.device.VirtualSATAController,),  # VirtualAHCIController
}
NONPERSISTENT = "nonpersistentDisks"
ALLOWED: FieldPath = ("devices", "nonpersistentAllowed")  # a parameter: disk labels left independent_nonpersistent
INDEPENDENT_NONPERSISTENT = "independent_nonpersistent"
CONTROLLERS = (vim.vm.device.VirtualController,)


def devices_of(state: ObjectState, kind: str, allowed: list[str] | None = None) -> list[Any]:
    everything = state.props.get("config.hardware.device") or []
    if kind == NONPERSISTENT:
        return [d for d in everything if isinstance(d, vim.vm.device.VirtualDisk)
                and getattr(d.backing, "diskMode", None) == INDEPENDENT_NONPERSISTENT
                and not any(fnmatch.fnmatchcase(label(d), glob) for glob in allowed or [])]
    return [d for d in everything if isinstance(d, KINDS[kind])]


def label(device: Any) -> str:
    info = getattr(device, "deviceInfo", None)
    return getattr(info, "label", None) or f"{type(device).__name__} {device.key}"


def connected(device: Any) -> bool:
    c = getattr(device, "connectable", None)
    return bool(c and (c.connected or c.startConnected))


def removed_kinds(desired: Mapping[FieldPath, Any]) -> set[str]:
    return {p[1] for p, v in desired.items() if p[0] == "devices" and v == "absent" and p[1] in KINDS}


def kept_children(controller: Any, state: ObjectState, desired: Mapping[FieldPath, Any]) -> list[str]:
    """Devices on `controller` that this policy does not remove (they hold the controller in place)."""
    going = removed_kinds(desired)
    return [label(d) for d in state.props.get("config.hardware.device") or []
            if getattr(d, "controllerKey", None) == controller.key and not any(isinstance(d, KINDS[k]) for k in going)]


class VMDevices(VMController):
    name = "vmDevices"
    order = 120  # before the hardware upgrade and encryption (SCG order)
    spec_key = "devices"
    properties = ("config.hardware.device", "runtime.powerState")

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        diffs: list[FieldDiff] = []
        for path, want in sorted(desired.items()):
            if path[0] != self.spec_key or path == ALLOWED:
                continue
            found = devices_of(state, path[1], desired.get(ALLOWED))
            if not found:
                continue
            names = ", ".join(label(d) for d in found)
            if want == "disconnected":
                live = [label(d) for d in found if connected(d)]
                if live:
                    diffs.append(FieldDiff(path, "connected", "disconnected", subject=", ".join(live)))
                continue
            if path[1] == NONPERSISTENT:
                diff = FieldDiff(path, INDEPENDENT_NONPERSISTENT, "persistent", subject=names, impact=Impact.POWER_CYCLE)
                diffs.append(gate(diff, state, desired))
                continue
            held = {label(c): kept_children(c, state, desired) for c in found if isinstance(c, CONTROLLERS)}
            held = {c: kids for c, kids in held.items() if kids}
            if held:
                what = "; ".join(f"{c} holds {', '.join(kids)}" for c, kids in held.items())
                diffs.append(FieldDiff(path, "present", "absent", subject=names, impact=Impact.POWER_CYCLE,
                                       skip=Skip.UNSUPPORTED,
                                       message=f"a controller can only be removed with its devices: {what} "
                                               "(remove them too, e.g. cdrom: absent)"))
                continue
            diff = FieldDiff(path, "present", "absent", subject=names, impact=Impact.POWER_CYCLE)
            diffs.append(gate(diff, state, desired))
        return diffs

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        changes = []
        for d in diffs:
            kind = d.path[1]
            for device in devices_of(state, kind, desired.get(ALLOWED)):
                if d.desired == "disconnected":
                    if not connected(device):
                        continue
                    device.connectable.connected = False
                    device.connectable.startConnected = False
                    changes.append(vim.vm.device.VirtualDeviceSpec(operation="edit", device=device))
                elif kind == NONPERSISTENT:
                    device.backing.diskMode = "persistent"
                    changes.append(vim.vm.device.VirtualDeviceSpec(operation="edit", device=device))
                else:
                    changes.append(vim.vm.device.VirtualDeviceSpec(operation="remove", device=device))
        # devices before their controllers: a USB device before its USB controller, a CD-ROM before its SATA one
        changes.sort(key=lambda c: isinstance(c.device, CONTROLLERS))
        if changes:
            reconfigure(conn, state.mo, config_spec(deviceChange=changes))
