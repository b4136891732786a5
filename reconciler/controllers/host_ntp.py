"""NTP servers of the host (HostDateTimeSystem): `ntp.servers`, compared as a set (case-insensitive names).

Written with `UpdateDateTimeConfig` (in the spec's order); ntpd reads its servers at start, so a running ntpd is
restarted after the change (as the vSphere Client does). The ntpd service itself is `services.ntpd`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Related
from reconciler.vsphere.protocol import Connection

DATETIME = "configManager.dateTimeSystem"
SERVERS: FieldPath = ("ntp", "servers")
NTPD = "ntpd"


def _key(servers: list[str]) -> list[str]:
    return sorted(s.lower() for s in servers)


class HostNtp(Controller):
    name = "ntp"
    order = 60  # after network security, before lockdown (90)
    spec_key = "ntp"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ("config.service", "configManager.serviceSystem")
    related = (Related(via=DATETIME, type="HostDateTimeSystem", properties=("dateTimeInfo",)),)

    def observe(self, state: ObjectState) -> None:
        system = state.related.get(DATETIME)
        info = system.props.get("dateTimeInfo") if system is not None else None
        ntp = getattr(info, "ntpConfig", None) if info is not None else None
        state.own(self.name)["servers"] = list(ntp.server or []) if ntp is not None else ([] if info else None)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        if SERVERS not in desired:
            return []
        want = list(desired[SERVERS])
        have = state.own(self.name).get("servers")
        if have is not None and _key(have) == _key(want):
            return []
        return [FieldDiff(SERVERS, sorted(have) if have is not None else None, want)]

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        config = vim.host.DateTimeConfig(ntpConfig=vim.host.NtpConfig(server=list(diffs[0].desired)))
        conn.call(state.props[DATETIME].UpdateDateTimeConfig, config=config)
        services = getattr(state.props.get("config.service"), "service", None) or []
        if any(s.key == NTPD and s.running for s in services):
            conn.call(state.props["configManager.serviceSystem"].RestartService, id=NTPD)
