"""Host services (HostServiceSystem): `services.<key>.running` and `services.<key>.policy`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import (
    ConnectionFacts,
    FieldDiff,
    FieldPath,
    ObjectState,
    Skip,
)
from reconciler.didyoumean import suggest
from reconciler.vsphere.protocol import Connection

#: services vCenter manages the host through (its agent); compared ignoring case
MANAGEMENT_SERVICES_VIA_VCENTER = frozenset({"vpxa"})


def _services(state: ObjectState) -> dict[str, Any]:
    info = state.props.get("config.service")
    return {s.key: s for s in (getattr(info, "service", None) or [])}


class HostServices(Controller):
    name = "services"
    order = 10
    spec_key = "services"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ("config.service", "configManager.serviceSystem", "summary.managementServerIp")

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        services = _services(state)
        diffs: list[FieldDiff] = []
        for path, want in sorted(desired.items()):
            _, key, attr = path
            service = services.get(key)
            if service is None:
                diffs.append(FieldDiff(path, None, want, skip=Skip.UNSUPPORTED,
                                       message=f"service {key!r} does not exist on this host"
                                               f"{suggest(key, services)}"))
                continue
            if attr == "running":
                if bool(service.running) != bool(want):
                    diffs.append(FieldDiff(path, bool(service.running), bool(want)))
            elif str(service.policy).lower() != str(want).lower():
                diffs.append(FieldDiff(path, service.policy, want))
        return diffs

    def guard(self, diff: FieldDiff, desired: Mapping[FieldPath, Any], state: ObjectState,
              facts: ConnectionFacts) -> str | None:
        """vCenter's agent must not be stopped (or set not to start) on a host vCenter manages: through vCenter,
        or directly on a host that reports a managing vCenter."""
        key, attr = diff.path[1], diff.path[2]
        stopping = (attr == "running" and not diff.desired) or (attr == "policy" and str(diff.desired).lower() == "off")
        managed_by_vcenter = facts.is_vcenter or bool(state.props.get("summary.managementServerIp"))
        if stopping and managed_by_vcenter and key.lower() in MANAGEMENT_SERVICES_VIA_VCENTER:
            return (f"refusing to stop {key}: vCenter manages this host through it, "
                    "so the reconciler (and vCenter) would lose the host")
        return None

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        system = state.props["configManager.serviceSystem"]
        # policy first, so that a service being turned off does not come back on its own
        for d in sorted(diffs, key=lambda d: d.path[2] != "policy"):
            key, attr = d.path[1], d.path[2]
            if attr == "policy":
                conn.call(system.UpdateServicePolicy, id=key, policy=str(d.desired))
            elif d.desired:
                conn.call(system.StartService, id=key)
            else:
                conn.call(system.StopService, id=key)
