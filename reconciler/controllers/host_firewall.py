"""Host firewall rulesets (HostFirewallSystem): `firewall.<ruleset>.enabled` and `.allowedIPs`.

`allowedIPs` is compared as a set of networks: a single address is the same as its /32 (or /128) network,
order does not matter, and `all` means the ruleset's allIp flag."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers.base import ConnectionFacts, Controller, ObjectState
from reconciler.engine.types import FieldDiff, FieldPath, Skip

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
AllowList = str | frozenset[Network]  # "all" or a set of networks

#: rulesets that carry the SOAP connection the reconciler (or vCenter) uses to manage the host
MANAGEMENT_RULESETS = frozenset({"vSphereClient"})


def normalize_allowed(value: Any) -> AllowList:
    if value == "all" or value is None:
        return "all"
    return frozenset(ipaddress.ip_network(str(v), strict=False) for v in value)


def observed_allowed(ruleset: Any) -> AllowList:
    hosts = getattr(ruleset, "allowedHosts", None)
    if hosts is None or hosts.allIp:
        return "all"
    nets = {ipaddress.ip_network(a, strict=False) for a in (hosts.ipAddress or [])}
    nets |= {ipaddress.ip_network(f"{n.network}/{n.prefixLength}", strict=False) for n in (hosts.ipNetwork or [])}
    return frozenset(nets)


def render_allowed(value: AllowList) -> Any:
    if value == "all":
        return "all"
    return sorted(_render_net(n) for n in value)


def _render_net(net: Network) -> str:
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def allows(allowed: AllowList, address: str) -> bool:
    if allowed == "all":
        return True
    ip = ipaddress.ip_address(address)
    return any(ip in net for net in allowed)


def ip_list(allowed: AllowList) -> Any:
    if allowed == "all":
        return vim.host.Ruleset.IpList(allIp=True)
    addresses = [str(n.network_address) for n in allowed if n.prefixlen == n.max_prefixlen]
    networks = [vim.host.Ruleset.IpNetwork(network=str(n.network_address), prefixLength=n.prefixlen)
                for n in allowed if n.prefixlen != n.max_prefixlen]
    return vim.host.Ruleset.IpList(allIp=False, ipAddress=sorted(addresses), ipNetwork=networks)


def _rulesets(state: ObjectState) -> dict[str, Any]:
    info = state.props.get("config.firewall")
    return {r.key: r for r in (getattr(info, "ruleset", None) or [])}


class HostFirewall(Controller):
    name = "firewall"
    spec_key = "firewall"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ("config.firewall", "configManager.firewallSystem", "summary.managementServerIp")

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        rulesets = _rulesets(state)
        diffs: list[FieldDiff] = []
        for path, want in sorted(desired.items()):
            _, key, attr = path
            ruleset = rulesets.get(key)
            if ruleset is None:
                diffs.append(FieldDiff(path, None, want, skip=Skip.UNSUPPORTED,
                                       message=f"firewall ruleset {key!r} does not exist on this host"))
                continue
            if attr == "enabled":
                if bool(ruleset.enabled) != bool(want):
                    diffs.append(FieldDiff(path, bool(ruleset.enabled), bool(want)))
                continue
            current, target = observed_allowed(ruleset), normalize_allowed(want)
            if current != target:
                diffs.append(FieldDiff(path, render_allowed(current), render_allowed(target)))
        return diffs

    def guard(self, diff: FieldDiff, desired: Mapping[FieldPath, Any], state: ObjectState,
              facts: ConnectionFacts) -> str | None:
        key, attr = diff.path[1], diff.path[2]
        if key not in MANAGEMENT_RULESETS:
            return None
        if facts.is_vcenter:
            source, who = state.props.get("summary.managementServerIp"), "vCenter"
        else:
            source, who = facts.local_address, "the reconciler"
        if attr == "enabled" and diff.desired is False:
            return f"refusing to disable ruleset {key}: {who} manages this host through it"
        if attr == "allowedIPs":
            if not source:
                return (f"refusing to restrict ruleset {key}: the address {who} uses to reach this host is "
                        "unknown, so the allow-list could lock it out")
            if not allows(normalize_allowed(diff.desired), source):
                return (f"refusing to restrict ruleset {key} to {diff.desired}: it excludes {source}, "
                        f"the address {who} uses to manage this host")
        return None

    def apply(self, conn: Any, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        system = state.props["configManager.firewallSystem"]
        # allow-lists first: enabling a ruleset should never open it wider than the spec allows, even briefly
        for d in sorted(diffs, key=lambda d: d.path[2] != "allowedIPs"):
            key, attr = d.path[1], d.path[2]
            if attr == "enabled":
                conn.call(system.EnableRuleset if d.desired else system.DisableRuleset, id=key)
            else:
                spec = vim.host.Ruleset.RulesetSpec(allowedHosts=ip_list(normalize_allowed(d.desired)))
                conn.call(system.UpdateRuleset, id=key, spec=spec)
