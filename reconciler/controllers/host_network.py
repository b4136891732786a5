"""Standard vSwitch and portgroup security (HostNetworkSystem): `networkSecurity.allowPromiscuous`,
`.macChanges`, `.forgedTransmits`.

The vSwitch policy is set to the desired values. A portgroup that overrides one of them with another value gets
the desired value written into its override (explicit, so a later vSwitch change does not reopen it). Portgroups
matching `excludePortgroups` are left alone; a portgroup without an override inherits the vSwitch's value."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers import netsec
from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Skip
from reconciler.vsphere.protocol import Connection


def _security(policy: Any) -> Any:
    return getattr(policy, "security", None) if policy is not None else None


class HostNetworkSecurity(Controller):
    name = "vswitchSecurity"
    order = 40
    spec_key = netsec.SPEC_KEY
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ("config.network.vswitch", "config.network.portgroup", "configManager.networkSystem")

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        want = netsec.wanted(desired)
        if not want:
            return []
        diffs: list[FieldDiff] = []
        for vswitch in state.props.get("config.network.vswitch") or []:
            security = _security(getattr(vswitch.spec, "policy", None))
            for field, value in want.items():
                current = getattr(security, field, None) if security is not None else None
                if current is None:
                    diffs.append(FieldDiff((self.spec_key, field), None, value, subject=f"vSwitch {vswitch.name}",
                                           skip=Skip.UNSUPPORTED,
                                           message="the host reports no security policy for this vSwitch"))
                elif bool(current) != value:
                    diffs.append(FieldDiff((self.spec_key, field), bool(current), value,
                                           subject=f"vSwitch {vswitch.name}"))
        for portgroup in state.props.get("config.network.portgroup") or []:
            name = portgroup.spec.name
            if netsec.excluded(name, desired):
                continue
            override = _security(getattr(portgroup.spec, "policy", None))
            for field, value in want.items():
                current = getattr(override, field, None) if override is not None else None
                if current is not None and bool(current) != value:
                    diffs.append(FieldDiff((self.spec_key, field), bool(current), value, subject=f"portgroup {name}"))
        return diffs

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        system = state.props["configManager.networkSystem"]
        by_subject: dict[str, dict[str, bool]] = {}
        for d in diffs:
            by_subject.setdefault(d.subject, {})[d.path[1]] = d.desired
        vswitches = {v.name: v for v in state.props.get("config.network.vswitch") or []}
        portgroups = {p.spec.name: p for p in state.props.get("config.network.portgroup") or []}
        for subject, values in sorted(by_subject.items()):
            kind, _, name = subject.partition(" ")
            if kind == "vSwitch":
                conn.call(system.UpdateVirtualSwitch, vswitchName=name, spec=with_security(vswitches[name].spec, values))
            else:
                conn.call(system.UpdatePortGroup, pgName=name, portgrp=with_security(portgroups[name].spec, values))


def with_security(spec: Any, values: Mapping[str, bool]) -> Any:
    """A copy of a vSwitch or portgroup spec with these security policy fields set (others untouched)."""
    spec = copy.deepcopy(spec)
    spec.policy = spec.policy or vim.host.NetworkPolicy()
    spec.policy.security = spec.policy.security or vim.host.NetworkPolicy.SecurityPolicy()
    for field, value in values.items():
        setattr(spec.policy.security, field, value)
    return spec
