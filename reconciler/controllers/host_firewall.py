"""Host firewall rulesets (HostFirewallSystem): `firewall.<ruleset>.enabled` and `.allowedIPs`.

`allowedIPs` is compared as a set of networks: a single address is the same as its /32 (or /128) network,
order does not matter, and `all` means the ruleset's allIp flag."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, Literal

from pyVmomi import vim

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

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
AllowList = Literal["all"] | frozenset[Network]  # "all" (the allIp flag) or a set of networks

#: inbound ruleset that carries the SOAP connection (TCP 443/902) the reconciler or vCenter manages the host through
CLIENT_RULESET = "vSphereClient"
#: outbound ruleset of vCenter's agent (vpxa) heartbeats to vCenter (UDP 902): without it the host stops responding
HEARTBEAT_RULESET = "vpxHeartbeats"
MANAGEMENT_RULESETS = frozenset({CLIENT_RULESET, HEARTBEAT_RULESET})


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
    if isinstance(value, str):
        return "all"
    return sorted(_render_net(n) for n in value)


def _render_net(net: Network) -> str:
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def wire_address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address the host's firewall sees: an IPv4-mapped IPv6 address (`::ffff:10.0.0.5`, what a dual-stack
    socket reports for an IPv4 peer) is the IPv4 address on the wire; an IPv6 zone (`%eth0`) is dropped.
    Raises ValueError for something that is not an address (a host name)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def allows(allowed: AllowList, address: str) -> bool:
    """Does the allow-list admit `address` for sure? Entries of the other IP version never do (`::/0` does not
    admit IPv4 peers), and IPv4-mapped IPv6 entries (`::ffff:10.0.0.5`) are not counted: how the host's firewall
    treats them is not known. Raises ValueError when `address` is not an IP address."""
    if isinstance(allowed, str):
        return True
    ip = wire_address(address)
    return any(net.version == ip.version and not _mapped(net) and ip in net for net in allowed)


def _mapped(net: Network) -> bool:
    return isinstance(net, ipaddress.IPv6Network) and net.network_address.ipv4_mapped is not None


def ip_list(allowed: AllowList) -> Any:
    if isinstance(allowed, str):
        return vim.host.Ruleset.IpList(allIp=True)
    addresses = [str(n.network_address) for n in allowed if n.prefixlen == n.max_prefixlen]
    networks = [vim.host.Ruleset.IpNetwork(network=str(n.network_address), prefixLength=n.prefixlen)
                for n in allowed if n.prefixlen != n.max_prefixlen]
    return vim.host.Ruleset.IpList(allIp=False, ipAddress=sorted(addresses), ipNetwork=networks)


def _managers(key: str, state: ObjectState, facts: ConnectionFacts) -> list[tuple[str, str | None]]:
    """Who needs ruleset `key` to manage the host, with the address the host sees them at: the reconciler on a
    direct connection (its source address), vCenter whenever it manages the host (the host's
    `summary.managementServerIp`), through vCenter or not."""
    vcenter = state.props.get("summary.managementServerIp") or None
    managed_by_vcenter = facts.is_vcenter or vcenter is not None
    out: list[tuple[str, str | None]] = []
    if key.lower() == CLIENT_RULESET.lower():
        if not facts.is_vcenter:
            out.append(("the reconciler", facts.local_address))
        if managed_by_vcenter:
            out.append(("vCenter", vcenter))
    elif key.lower() == HEARTBEAT_RULESET.lower() and managed_by_vcenter:
        out.append(("vCenter", vcenter))
    return out


def _rulesets(state: ObjectState) -> dict[str, Any]:
    info = state.props.get("config.firewall")
    return {r.key: r for r in (getattr(info, "ruleset", None) or [])}


class HostFirewall(Controller):
    name = "firewall"
    order = 20
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
                alike = sorted(k for k in rulesets if k.lower() == key.lower())
                hint = (f" (ruleset keys are case-sensitive: did you mean {alike[0]!r}?)" if alike
                        else suggest(key, rulesets))
                diffs.append(FieldDiff(path, None, want, skip=Skip.UNSUPPORTED,
                                       message=f"firewall ruleset {key!r} does not exist on this host{hint}"))
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
        """`vSphereClient` carries the reconciler's (direct) and vCenter's connection; `vpxHeartbeats` carries
        vCenter's agent heartbeats. Neither may be disabled, nor restricted to a list that does not admit, for
        sure, every manager's address (an unknown address refuses). Keys are compared ignoring case."""
        key, attr = diff.path[1], diff.path[2]
        managers = _managers(key, state, facts)
        if not managers:
            return None
        canonical = next(k for k in MANAGEMENT_RULESETS if k.lower() == key.lower())
        who = " and ".join(name for name, _ in managers)
        if attr == "enabled" and not diff.desired:
            verb = "manage" if len(managers) > 1 else "manages"
            why = (f"{who} {verb} this host through it" if canonical == CLIENT_RULESET else
                   "vCenter's agent (vpxa) sends its heartbeats through it; without them vCenter loses the host")
            return f"refusing to disable ruleset {key}: {why}"
        if attr != "allowedIPs":
            return None
        target = normalize_allowed(diff.desired)
        for name, source in managers:
            if not source:
                return (f"refusing to restrict ruleset {key}: the address {name} uses to reach this host is "
                        "unknown, so the allow-list could lock it out")
            try:
                admitted = allows(target, source)
            except ValueError:
                return (f"refusing to restrict ruleset {key}: {name}'s address {source!r} is not an IP address, "
                        "so vsr cannot tell whether the allow-list admits it")
            if not admitted:
                what = (f"the address {name} uses to manage this host" if canonical == CLIENT_RULESET
                        else "the address of vCenter, to which the host sends its agent heartbeats")
                return f"refusing to restrict ruleset {key} to {diff.desired}: it excludes {source}, {what}"
        return None

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
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
