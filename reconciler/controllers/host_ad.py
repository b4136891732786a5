"""Active Directory membership of the host (`activeDirectory.domain`, from `config.authenticationManagerInfo`):
audit only. Joining a domain needs a domain account's password, which vsr does not take (join with the vSphere
Client, PowerCLI `Set-VMHostAuthentication -JoinDomain` or a host profile). The esxAdmins settings are advanced
options (`advancedSettings.Config.HostAgent.plugins.hostsvc.esxAdminsGroup`, `...esxAdminsGroupAutoAdd`,
`...vimsvc.authValidateInterval`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Skip
from reconciler.vsphere.protocol import Connection

DOMAIN: FieldPath = ("activeDirectory", "domain")

JOIN_REASON = ("audit only: joining a domain needs a domain account's password, which vsr does not take; join the "
               "host with the vSphere Client, PowerCLI (Set-VMHostAuthentication -JoinDomain) or a host profile")


def joined_domain(state: ObjectState) -> str | None:
    """The domain the host is joined to ("" when none), None when the host reports no Active Directory store."""
    info = state.props.get("config.authenticationManagerInfo")
    for store in getattr(info, "authConfig", None) or []:
        if hasattr(store, "joinedDomain"):
            return str(store.joinedDomain or "")
    return None


class HostActiveDirectory(Controller):
    name = "activeDirectory"
    order = 75
    spec_key = "activeDirectory"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ("config.authenticationManagerInfo",)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        if DOMAIN not in desired:
            return []
        want = str(desired[DOMAIN])
        current = joined_domain(state)
        if current is None:
            return [FieldDiff(DOMAIN, None, want, skip=Skip.UNSUPPORTED,
                              message="the host reports no Active Directory authentication store")]
        if current.rstrip(".").lower() == want.rstrip(".").lower():
            return []
        return [FieldDiff(DOMAIN, current or None, want, skip=Skip.AUDIT, message=JOIN_REASON)]

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        raise NotImplementedError("activeDirectory.domain is audit only")  # diff never yields an actionable change
