"""The host's SNMP v1/v2c agent (HostSnmpSystem): `snmp.enabled` and `snmp.communitiesFile`.

The read-only communities are secrets: they come from the file the spec names (one per line, blank lines
ignored), are compared as a set with the agent's `configuration.readOnlyCommunities`, and never leave this
module: the plan shows only that they differ (`<secret>` against `<secret in FILE>`), `apply` reads the file
again. SNMP v3 users are not part of the vSphere API (HostSnmpSystem provisions v1/v2c only; v3 needs esxcli
`system snmp set --users`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Related, Skip
from reconciler.vsphere.protocol import Connection
from reconciler.vsphere.settings import SettingsError, read_secret_file

SNMP = "configManager.snmpSystem"
ENABLED: FieldPath = ("snmp", "enabled")
COMMUNITIES: FieldPath = ("snmp", "communitiesFile")
HIDDEN = "<secret>"
NONE = "<none>"


def read_communities(path: str) -> list[str]:
    """The communities in `path`; raises SettingsError naming the file, never its content."""
    text = read_secret_file(path, "snmp.communitiesFile")
    return [line.strip() for line in text.splitlines() if line.strip()]


def placeholder(path: str) -> str:
    return f"<secret in {path}>"


def _config(state: ObjectState) -> Any:
    system = state.related.get(SNMP)
    return system.props.get("configuration") if system is not None else None


class HostSnmp(Controller):
    name = "snmp"
    order = 70
    spec_key = "snmp"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ()
    related = (Related(via=SNMP, type="HostSnmpSystem", properties=("configuration",)),)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        config = _config(state)
        diffs: list[FieldDiff] = []
        if ENABLED in desired:
            current = bool(config.enabled) if config is not None and config.enabled is not None else None
            if current != bool(desired[ENABLED]):
                diffs.append(FieldDiff(ENABLED, current, bool(desired[ENABLED])))
        if COMMUNITIES in desired:
            path = str(desired[COMMUNITIES])
            have = list(getattr(config, "readOnlyCommunities", None) or [])
            shown = HIDDEN if have else NONE
            try:
                want = read_communities(path)
            except SettingsError as exc:
                diffs.append(FieldDiff(COMMUNITIES, shown, placeholder(path), skip=Skip.INVALID, message=str(exc)))
                return diffs
            if config is None or set(have) != set(want):
                diffs.append(FieldDiff(COMMUNITIES, shown, placeholder(path),
                                       message="the read-only communities differ from the file's"))
        return diffs

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        config = _config(state)
        spec = vim.host.SnmpSystem.SnmpConfigSpec(
            enabled=getattr(config, "enabled", None), port=getattr(config, "port", None),
            readOnlyCommunities=list(getattr(config, "readOnlyCommunities", None) or []),
            trapTargets=list(getattr(config, "trapTargets", None) or []),
            option=list(getattr(config, "option", None) or []))
        for d in diffs:
            if d.path == ENABLED:
                spec.enabled = bool(d.desired)
            else:
                spec.readOnlyCommunities = read_communities(str(desired[COMMUNITIES]))
        conn.call(state.props[SNMP].ReconfigureSnmpAgent, spec=spec)
