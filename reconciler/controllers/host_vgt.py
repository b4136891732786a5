"""Virtual Guest Tagging on standard port groups (HostNetworkSystem): `vgt.allowed`.

`allowed: false` reports every standard port group with VLAN 4095 (VGT: the guest sees and sets VLAN tags)
that `exceptPortgroups` does not list. Which VLAN such a port group should carry instead is a site decision:
with `replacementVlan` vsr writes that VLAN ID (`UpdatePortGroup`, disruptive for the VMs on it); without it the
port group is reported and left alone (audit only)."""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Mapping
from typing import Any

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import ConnectionFacts, FieldDiff, FieldPath, Impact, ObjectState, Skip
from reconciler.vsphere.protocol import Connection

VGT_VLAN = 4095
ALLOWED: FieldPath = ("vgt", "allowed")
EXCEPT: FieldPath = ("vgt", "exceptPortgroups")
REPLACEMENT: FieldPath = ("vgt", "replacementVlan")


class HostVgt(Controller):
    name = "vgt"
    order = 45  # with the other standard-switch settings (vswitchSecurity 40)
    spec_key = "vgt"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ("config.network.portgroup", "config.network.vnic", "configManager.networkSystem")

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        if ALLOWED not in desired or desired[ALLOWED]:
            return []
        excepted = [str(g) for g in desired.get(EXCEPT) or []]
        replacement = desired.get(REPLACEMENT)
        diffs: list[FieldDiff] = []
        for pg in state.props.get("config.network.portgroup") or []:
            name = pg.spec.name
            if pg.spec.vlanId != VGT_VLAN or any(fnmatch.fnmatchcase(name, g) for g in excepted):
                continue
            subject = f"portgroup {name}"
            if replacement is None:
                diffs.append(FieldDiff(ALLOWED, True, False, subject=subject, skip=Skip.AUDIT,
                                       message="port group uses VLAN 4095 (VGT); set vgt.replacementVlan for vsr to "
                                               "change it, or list it in vgt.exceptPortgroups"))
            else:
                diffs.append(FieldDiff(ALLOWED, True, False, subject=subject, impact=Impact.DISRUPTIVE,
                                       message=f"VLAN 4095 -> {replacement}"))
        return diffs

    def guard(self, diff: FieldDiff, desired: Mapping[FieldPath, Any], state: ObjectState,
              facts: ConnectionFacts) -> str | None:
        """Never move a port group that carries a VMkernel NIC to another VLAN: the host's own traffic (maybe the
        path vsr or vCenter reaches it by) would be cut."""
        name = diff.subject.partition(" ")[2]
        vmks = sorted(v.device for v in state.props.get("config.network.vnic") or [] if v.portgroup == name)
        if not vmks:
            return None
        return (f"refusing to move port group {name!r} to VLAN {desired.get(REPLACEMENT)}: VMkernel NIC(s) "
                f"{', '.join(vmks)} use it (the host's own traffic, maybe how vsr or vCenter reaches it); "
                "change its VLAN by hand or list it in vgt.exceptPortgroups")

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        system = state.props["configManager.networkSystem"]
        portgroups = {p.spec.name: p for p in state.props.get("config.network.portgroup") or []}
        vlan = int(desired[REPLACEMENT])
        for d in diffs:
            name = d.subject.partition(" ")[2]
            spec = copy.deepcopy(portgroups[name].spec)
            spec.vlanId = vlan
            conn.call(system.UpdatePortGroup, pgName=name, portgrp=spec)
