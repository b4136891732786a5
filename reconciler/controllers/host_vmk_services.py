"""VMkernel NIC services (HostVirtualNicManager): `vmkServices.<service>` is the exact set of vmks that carry the
service (`management`, `vmotion`, `vSphereProvisioning`, `vsan`, ...), read from `config.virtualNicManagerInfo`
(watched) and written with `SelectVnicForNicType` / `DeselectVnicForNicType`.

The model refuses a spec where management shares a vmk with another service, or vMotion with IP storage. Apply
selects before it deselects, so a service moves without a moment on no vmk. Guard: vsr (directly) and vCenter reach
the host through a management vmk, so a management set that keeps none of the vmks carrying management now is
refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import ConnectionFacts, FieldDiff, FieldPath, ObjectState, Skip
from reconciler.vsphere.protocol import Connection

SECTION = "vmkServices"
INFO = "config.virtualNicManagerInfo"
MANAGER = "configManager.virtualNicManager"
MANAGEMENT = (SECTION, "management")


def services(info: Any) -> dict[str, tuple[list[str], list[str]]]:
    """Pure: {nicType: (candidate vmks, selected vmks)} from HostVirtualNicManagerInfo (selectedVnic holds the
    candidates' keys, `<nicType>.key-vim.host.VirtualNic-vmkN`)."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    for config in getattr(info, "netConfig", None) or []:
        by_key = {c.key: c.device for c in config.candidateVnic or []}
        selected = sorted(by_key.get(k, k.rpartition("-")[2]) for k in config.selectedVnic or [])
        out[config.nicType] = (sorted(by_key.values()), selected)
    return out


STORAGE = ("vsan", "nvmeTcp", "nvmeRdma")


def shared_with_management(desired: Mapping[FieldPath, Any], service: str) -> str:
    """Pure: why the merged desired values (several policies may each set some services) would put `service` on a
    vmk with management, or vMotion with IP storage; "" when they do not."""
    lists = {p[1]: set(v) for p, v in desired.items() if p[0] == SECTION}
    pairs = [(service, other) for other in lists if other != service and
             ("management" in (service, other) or {service, other} <= {"vmotion", *STORAGE} and
              "vmotion" in (service, other))]
    for a, b in pairs:
        shared = sorted(lists[a] & lists[b])
        if shared:
            return f"{', '.join(shared)} would carry both {a} and {b} (merged from the policies): refused"
    return ""


class HostVmkServices(Controller):
    name = "vmkServices"
    order = 47  # network: after vSwitch security (40) and VGT (45)
    spec_key = SECTION
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = (INFO, MANAGER)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        info = state.props.get(INFO)
        if info is None:
            raise RuntimeError("the host reports no VMkernel NIC services (config.virtualNicManagerInfo)")
        have = services(info)
        diffs: list[FieldDiff] = []
        for path, want in sorted(desired.items()):
            if path[0] != SECTION:
                continue
            want = sorted(set(want))
            if path[1] not in have:
                diffs.append(FieldDiff(path, None, want, skip=Skip.UNSUPPORTED,
                                       message=f"the host has no VMkernel NIC service {path[1]!r}"))
                continue
            candidates, selected = have[path[1]]
            if selected == want:
                continue
            unknown = [v for v in want if v not in candidates]
            message = (f"the host has no {', '.join(unknown)} for {path[1]} (vmks: {', '.join(candidates) or 'none'})"
                       if unknown else shared_with_management(desired, path[1]))
            diffs.append(FieldDiff(path, selected, want, skip=Skip.INVALID if message else None, message=message))
        return diffs

    def guard(self, diff: FieldDiff, desired: Mapping[FieldPath, Any], state: ObjectState,
              facts: ConnectionFacts) -> str | None:
        if diff.path != MANAGEMENT:
            return None
        now = set(diff.current or [])
        if now and not now & set(diff.desired):
            return (f"refusing management on {', '.join(diff.desired)} only: the host is reached "
                    f"({'by vCenter' if facts.is_vcenter else 'by the reconciler'}) through a vmk that carries "
                    f"management now ({', '.join(sorted(now))}); keep one of them in the list while moving it")
        return None

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        manager = state.props[MANAGER]
        steps = [(d.path[1], v) for d in diffs for v in d.desired if v not in (d.current or [])]
        for nic_type, device in steps:
            conn.call(manager.SelectVnicForNicType, nicType=nic_type, device=device)
        for d in diffs:
            for device in d.current or []:
                if device not in d.desired:
                    conn.call(manager.DeselectVnicForNicType, nicType=d.path[1], device=device)
