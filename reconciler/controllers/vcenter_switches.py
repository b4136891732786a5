"""Distributed switches of a VCenterSecurityPolicy (`distributedSwitch`): link discovery operation, NetFlow/IPFIX
collector, port mirroring sessions; a partial ReconfigureDvs_Task carrying the configVersion vsr read, so an edit
made since then makes vCenter refuse the write (ConcurrentAccess). Field ownership: see `vcenter_portgroups`."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Skip
from reconciler.vsphere import tasks
from reconciler.vsphere.protocol import Connection

KIND = "VCenterSecurityPolicy"
SWITCH = "distributedSwitch"
VDS = vim.dvs.VmwareDistributedVirtualSwitch


# -- distributed switches ---------------------------------------------------------------------------------------

def _in(address: str, allowed: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(a, strict=False) for a in allowed)


class VCenterSwitches(Controller):
    name = "vcenterSwitches"
    order = 210
    spec_key = SWITCH
    managed_type = "DistributedVirtualSwitch"
    policy_kind = KIND
    # the whole config: vspanSession, linkDiscoveryProtocolConfig and ipfixConfig belong to VMwareDVSConfigInfo, a
    # subtype of the DVSConfigInfo the property path is declared with, so nested paths to them are not portable
    properties = ("config",)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        diffs: list[FieldDiff] = []
        config = state.props.get("config")
        for path, want in sorted(desired.items()):
            field = path[1]
            if field == "linkDiscoveryOperation":
                ldp = getattr(config, "linkDiscoveryProtocolConfig", None)
                if ldp is None:
                    diffs.append(FieldDiff(path, None, want, skip=Skip.UNSUPPORTED,
                                           message="the switch reports no link discovery protocol"))
                elif ldp.operation != want:
                    diffs.append(FieldDiff(path, str(ldp.operation), want))
            elif field == "mirrorSessions":
                names = sorted(s.name for s in getattr(config, "vspanSession", None) or [])
                extra = [n for n in names if n not in want]
                if extra:
                    diffs.append(FieldDiff(path, names, sorted(n for n in names if n in want),
                                           message=f"removes port mirroring session(s) {', '.join(extra)}"))
            elif field == "ipfixCollectors":
                collector = getattr(getattr(config, "ipfixConfig", None), "collectorIpAddress", None) or ""
                if collector and not _in(collector, list(want)):
                    diffs.append(FieldDiff(path, collector, "",
                                           message=f"NetFlow/IPFIX collector {collector} is not allowed: export stops"))
        return diffs

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        config = state.props.get("config")
        spec = VDS.ConfigSpec(configVersion=getattr(config, "configVersion", None))
        for d in diffs:
            field = d.path[1]
            if field == "linkDiscoveryOperation":
                ldp = getattr(config, "linkDiscoveryProtocolConfig", None)
                spec.linkDiscoveryProtocolConfig = vim.host.LinkDiscoveryProtocolConfig(
                    protocol=getattr(ldp, "protocol", None) or "cdp", operation=str(d.desired))
            elif field == "mirrorSessions":
                spec.vspanConfigSpec = [VDS.VspanConfigSpec(operation="remove", vspanSession=VDS.VspanSession(key=s.key))
                                        for s in getattr(config, "vspanSession", None) or []
                                        if s.name not in d.desired]
            elif field == "ipfixCollectors":
                current = getattr(config, "ipfixConfig", None)
                spec.ipfixConfig = VDS.IpfixConfig(
                    collectorIpAddress="", collectorPort=0,
                    activeFlowTimeout=getattr(current, "activeFlowTimeout", 60) or 60,
                    idleFlowTimeout=getattr(current, "idleFlowTimeout", 15) or 15,
                    samplingRate=getattr(current, "samplingRate", 4096) or 0,
                    internalFlowsOnly=bool(getattr(current, "internalFlowsOnly", False)))
        tasks.run(conn, state.mo.ReconfigureDvs_Task, spec=spec)
