"""DV portgroups of a VCenterSecurityPolicy (`distributedPortgroup`); switches: `vcenter_switches`.

One owner per field: the portgroups' security policy (promiscuous mode, MAC changes, forged transmits) stays with
HostSecurityPolicy `networkSecurity` (`dvpg_security`); this module owns every other portgroup field it names
(MAC learning, reset at disconnect, the port-level override flags, IPFIX, VLAN trunks) and the switch fields
(link discovery operation, NetFlow/IPFIX collector, port mirroring sessions).

Writes are partial reconfigures carrying the configVersion vsr read (ReconfigureDvs_Task /
ReconfigureDVPortgroup_Task): an edit made since then makes vCenter refuse the write (ConcurrentAccess) instead of
being overwritten. When both portgroup controllers change one portgroup in a pass, the second write carries the
version the first one produced (`dvpg_security.reconfigure`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Skip
from reconciler.controllers.dvpg_security import is_uplink, reconfigure
from reconciler.vsphere.protocol import Connection

KIND = "VCenterSecurityPolicy"
PORTGROUP = "distributedPortgroup"
VDS = vim.dvs.VmwareDistributedVirtualSwitch

#: portgroup policy flags (VMwareDVSPortgroupPolicy), by spec field
POLICY_FLAGS = ("portConfigResetAtDisconnect", "blockOverrideAllowed", "shapingOverrideAllowed",
                "vendorConfigOverrideAllowed", "livePortMovingAllowed", "networkResourcePoolOverrideAllowed",
                "trafficFilterOverrideAllowed", "vlanOverrideAllowed", "uplinkTeamingOverrideAllowed",
                "securityPolicyOverrideAllowed", "ipfixOverrideAllowed", "macManagementOverrideAllowed")


# -- VLAN ranges ------------------------------------------------------------------------------------------------

Range = tuple[int, int]


def parse_ranges(texts: list[str]) -> list[Range]:
    out = []
    for text in texts:
        low, _, high = str(text).partition("-")
        out.append((int(low), int(high or low)))
    return normalise(out)


def normalise(ranges: list[Range]) -> list[Range]:
    """Sorted, overlapping and adjacent ranges joined."""
    out: list[Range] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def intersect(have: list[Range], allowed: list[Range]) -> list[Range]:
    return normalise([(max(a, c), min(b, d)) for a, b in have for c, d in allowed if max(a, c) <= min(b, d)])


def render(ranges: list[Range]) -> list[str]:
    return [f"{a}-{b}" if a != b else str(a) for a, b in ranges]


def trunk_ranges(port_config: Any) -> list[Range] | None:
    """The trunk ranges of a port setting (None: no trunk, i.e. VLAN ID, private VLAN or none)."""
    vlan = getattr(port_config, "vlan", None)
    if not isinstance(vlan, VDS.TrunkVlanSpec):
        return None
    return normalise([(int(r.start), int(r.end)) for r in vlan.vlanId or []])


# -- DV portgroups ----------------------------------------------------------------------------------------------

def portgroup_values(props: Mapping[str, Any]) -> dict[str, Any]:
    """The observed value of each `distributedPortgroup` field (None where the portgroup reports none)."""
    config = props.get("config.defaultPortConfig")
    policy = props.get("config.policy")
    mac = getattr(getattr(config, "macManagementPolicy", None), "macLearningPolicy", None)
    ipfix = getattr(getattr(config, "ipfixEnabled", None), "value", None)
    out: dict[str, Any] = {
        "macLearning": None if mac is None else bool(mac.enabled),
        "ipfixEnabled": None if ipfix is None else bool(ipfix),
    }
    for flag in POLICY_FLAGS:
        value = getattr(policy, flag, None) if policy is not None else None
        out[flag] = None if value is None else bool(value)
    return out


class VCenterPortgroups(Controller):
    name = "vcenterPortgroups"
    order = 220
    spec_key = PORTGROUP
    managed_type = "DistributedVirtualPortgroup"
    policy_kind = KIND
    properties = ("config.defaultPortConfig", "config.policy", "config.configVersion", "config.uplink", "tag",
                  "config.distributedVirtualSwitch")  # its switch, for `selector.switches`

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        if is_uplink(state.props):
            return []
        have = portgroup_values(state.props)
        diffs: list[FieldDiff] = []
        for path, want in sorted(desired.items()):
            field = path[1]
            if field == "vlanTrunkRanges":
                diffs.extend(self._trunk(path, want, state))
                continue
            current = have.get(field)
            if current is None:
                diffs.append(FieldDiff(path, None, want, skip=Skip.UNSUPPORTED,
                                       message=f"the portgroup reports no {field}"))
            elif current != bool(want):
                diffs.append(FieldDiff(path, current, bool(want)))
        return diffs

    @staticmethod
    def _trunk(path: FieldPath, want: list[str], state: ObjectState) -> list[FieldDiff]:
        have = trunk_ranges(state.props.get("config.defaultPortConfig"))
        if have is None:
            return []
        narrowed = intersect(have, parse_ranges(want))
        if narrowed == have:
            return []
        if not narrowed:
            return [FieldDiff(path, render(have), want, skip=Skip.UNSUPPORTED,
                              message="no trunked VLAN is allowed: narrowing would leave the trunk empty; change the "
                                      "portgroup's VLAN type by hand")]
        return [FieldDiff(path, render(have), render(narrowed))]

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        port = VDS.VmwarePortConfigPolicy()
        policy = None
        for d in diffs:
            field = d.path[1]
            if field == "macLearning":
                port.macManagementPolicy = VDS.MacManagementPolicy(
                    inherited=False, macLearningPolicy=VDS.MacLearningPolicy(inherited=False, enabled=bool(d.desired)))
            elif field == "ipfixEnabled":
                port.ipfixEnabled = vim.BoolPolicy(inherited=False, value=bool(d.desired))
            elif field == "vlanTrunkRanges":
                port.vlan = VDS.TrunkVlanSpec(inherited=False, vlanId=[
                    vim.NumericRange(start=a, end=b) for a, b in parse_ranges(list(d.desired))])
            else:
                if policy is None:  # its flags are all required: send the current policy with the changes
                    current = state.props.get("config.policy")
                    policy = VDS.VMwarePortgroupPolicy(**{f: bool(getattr(current, f, False) or False)
                                                          for f in POLICY_FLAGS})
                setattr(policy, field, bool(d.desired))
        spec = vim.dvs.DistributedVirtualPortgroup.ConfigSpec(defaultPortConfig=port, policy=policy)
        reconfigure(conn, state, spec)


