"""The host firewall's default policy (HostFirewallSystem.UpdateDefaultPolicy): `firewallDefaultPolicy.incomingBlocked`
and `.outgoingBlocked`.

With incoming traffic blocked by default only enabled rulesets admit connections, so the rulesets vsr and vCenter
manage the host through must be enabled and admit their addresses: `vSphereClient` (TCP 443/902 in: the
reconciler on a direct connection, vCenter whenever it manages the host); with outgoing traffic blocked,
`vpxHeartbeats` (UDP 902 out to vCenter). The guard judges the rulesets as the host has them now (the firewall
section's own changes are applied before this one, and re-judged on the next pass)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import ConnectionFacts, FieldDiff, FieldPath, ObjectState
from reconciler.controllers.host_firewall import (
    CLIENT_RULESET,
    HEARTBEAT_RULESET,
    _managers,
    _rulesets,
    allows,
    observed_allowed,
)
from reconciler.vsphere.protocol import Connection

INCOMING: FieldPath = ("firewallDefaultPolicy", "incomingBlocked")
OUTGOING: FieldPath = ("firewallDefaultPolicy", "outgoingBlocked")
_ATTR = {INCOMING: "incomingBlocked", OUTGOING: "outgoingBlocked"}


def _policy(state: ObjectState) -> Any:
    return getattr(state.props.get("config.firewall"), "defaultPolicy", None)


class HostFirewallDefaultPolicy(Controller):
    name = "firewallDefaultPolicy"
    order = 25  # after the rulesets (20): a ruleset enabled in the same pass is in place first
    spec_key = "firewallDefaultPolicy"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ("config.firewall", "configManager.firewallSystem", "summary.managementServerIp")

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        policy = _policy(state)
        diffs: list[FieldDiff] = []
        for path in (INCOMING, OUTGOING):
            if path not in desired:
                continue
            raw = getattr(policy, _ATTR[path], None) if policy is not None else None
            current = None if raw is None else bool(raw)
            if current != bool(desired[path]):
                diffs.append(FieldDiff(path, current, bool(desired[path])))
        return diffs

    def guard(self, diff: FieldDiff, desired: Mapping[FieldPath, Any], state: ObjectState,
              facts: ConnectionFacts) -> str | None:
        """Blocking by default must leave open the rulesets vsr's and vCenter's own path needs."""
        if not diff.desired:
            return None  # allowing traffic by default cuts nobody off
        key = CLIENT_RULESET if diff.path == INCOMING else HEARTBEAT_RULESET
        direction = "incoming" if diff.path == INCOMING else "outgoing"
        managers = _managers(key, state, facts)
        if not managers:
            return None
        rulesets = {k.lower(): r for k, r in _rulesets(state).items()}
        ruleset = rulesets.get(key.lower())
        who = " and ".join(name for name, _ in managers)
        if ruleset is None:
            return (f"refusing to block {direction} traffic by default: the host has no {key} ruleset, which "
                    f"{who} needs to reach it")
        if not ruleset.enabled:
            return (f"refusing to block {direction} traffic by default: ruleset {key} is disabled, so {who} "
                    f"would lose the host; enable it first (firewall.{key}.enabled: true)")
        allowed = observed_allowed(ruleset)
        for name, address in managers:
            if not address:
                return (f"refusing to block {direction} traffic by default: the address {name} uses is unknown, "
                        f"so vsr cannot tell whether ruleset {key} admits it")
            try:
                admitted = allows(allowed, address)
            except ValueError:
                return (f"refusing to block {direction} traffic by default: {name}'s address {address!r} is not "
                        f"an IP address, so vsr cannot tell whether ruleset {key} admits it")
            if not admitted:
                return (f"refusing to block {direction} traffic by default: ruleset {key} does not admit "
                        f"{address}, the address of {name}")
        return None

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        policy = vim.host.FirewallInfo.DefaultPolicy(**{_ATTR[d.path]: bool(d.desired) for d in diffs})
        conn.call(state.props["configManager.firewallSystem"].UpdateDefaultPolicy, defaultPolicy=policy)
