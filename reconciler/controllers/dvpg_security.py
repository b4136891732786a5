"""Distributed portgroup security (ReconfigureDVPortgroup_Task): the same `networkSecurity` fields as
standard switches, on the DV portgroups a HostSecurityPolicy selects with `networkSecurity.distributedPortgroups`
(globs of portgroup names, within the policy's datacenters). Uplink portgroups are never touched.

The reconfigure spec carries only the security policy and the current `configVersion`, so a concurrent edit
makes vCenter refuse the write (ConcurrentAccess) instead of silently overwriting it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers import netsec
from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Skip
from reconciler.vsphere import inventory, tasks
from reconciler.vsphere.protocol import Connection

UPLINK_TAG = "SYSTEM/DVS.UPLINKPG"
#: the namespace, in ObjectState, of the configVersion a portgroup write of this pass produced
RECONFIGURED = "dvPortgroupReconfigure"


def reconfigure(conn: Connection, state: ObjectState, spec: Any) -> None:
    """ReconfigureDVPortgroup_Task with the configVersion read in the plan, or the one vsr's own previous write
    to this portgroup in this pass produced (so the controllers sharing a portgroup do not refuse each other)."""
    done = state.own(RECONFIGURED)
    spec.configVersion = done.get("configVersion", state.props.get("config.configVersion"))
    tasks.run(conn, state.mo.ReconfigureDVPortgroup_Task, spec=spec)
    fresh: Mapping[str, Any] = inventory.fetch_objects(conn, [state.mo], ["config.configVersion"]).get(state.ref.moid, {})
    if fresh.get("config.configVersion"):
        done["configVersion"] = fresh["config.configVersion"]


def is_uplink(props: Mapping[str, Any]) -> bool:
    """vCenter marks uplink portgroups with `config.uplink` (6.5+) and the system tag SYSTEM/DVS.UPLINKPG."""
    return bool(props.get("config.uplink")) or any(getattr(t, "key", None) == UPLINK_TAG for t in props.get("tag") or [])


def _policy_value(security: Any, field: str) -> bool | None:
    bool_policy = getattr(security, field, None) if security is not None else None
    value = getattr(bool_policy, "value", None)
    return None if value is None else bool(value)


class DistributedPortgroupSecurity(Controller):
    name = "dvPortgroupSecurity"
    order = 50
    spec_key = netsec.SPEC_KEY
    managed_type = "DistributedVirtualPortgroup"
    policy_kind = "HostSecurityPolicy"
    properties = ("config.defaultPortConfig", "config.configVersion", "config.uplink", "tag")

    def selects(self, name: str, desired: Mapping[FieldPath, Any]) -> bool:
        return netsec.selects_portgroup(name, desired)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        if is_uplink(state.props):
            return []
        security = getattr(state.props.get("config.defaultPortConfig"), "securityPolicy", None)
        diffs: list[FieldDiff] = []
        for field, value in netsec.wanted(desired).items():
            current = _policy_value(security, field)
            if current is None:
                diffs.append(FieldDiff((self.spec_key, field), None, value, skip=Skip.UNSUPPORTED,
                                       message="the portgroup reports no security policy"))
            elif current != value:
                diffs.append(FieldDiff((self.spec_key, field), current, value))
        return diffs

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        security = vim.dvs.VmwareDistributedVirtualSwitch.SecurityPolicy(inherited=False)
        for d in diffs:
            setattr(security, d.path[1], vim.BoolPolicy(inherited=False, value=bool(d.desired)))
        spec = vim.dvs.DistributedVirtualPortgroup.ConfigSpec(
            defaultPortConfig=vim.dvs.VmwareDistributedVirtualSwitch.VmwarePortConfigPolicy(securityPolicy=security),
        )
        reconfigure(conn, state, spec)
