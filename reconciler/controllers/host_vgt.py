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
from reconciler.controllers.contract import FieldDiff, FieldPath, Impact, ObjectState, Skip
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
    properties = ("config.network.portgroup", "configManager.networkSystem")

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
