"""Active Directory membership of the host (`activeDirectory.domain`, from `config.authenticationManagerInfo`).

A host joined to no domain is joined (`HostActiveDirectoryAuthentication.JoinDomain_Task`) when the policy names
the joining account's files (`joinUsernameFile`, `joinPasswordFile`: read at apply time, never shown); without
them the field is audit only. A host joined to another domain is always audit only: vsr never leaves a domain
(that would drop every domain user's access). The esxAdmins settings are advanced options
(`advancedSettings.Config.HostAgent.plugins.hostsvc.esxAdminsGroup`, `...esxAdminsGroupAutoAdd`,
`...vimsvc.authValidateInterval`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Skip
from reconciler.vsphere import tasks
from reconciler.vsphere.protocol import Connection
from reconciler.vsphere.settings import SettingsError, read_secret_file

DOMAIN: FieldPath = ("activeDirectory", "domain")
USER_FILE: FieldPath = ("activeDirectory", "joinUsernameFile")
PASSWORD_FILE: FieldPath = ("activeDirectory", "joinPasswordFile")
AUTH = "configManager.authenticationManager"

JOIN_REASON = ("audit only: joining a domain needs a domain account; name its files in activeDirectory."
               "joinUsernameFile and joinPasswordFile, or join the host with the vSphere Client, PowerCLI "
               "(Set-VMHostAuthentication -JoinDomain) or a host profile")


def joined_domain(state: ObjectState) -> str | None:
    """The domain the host is joined to ("" when none), None when the host reports no Active Directory store."""
    info = state.props.get("config.authenticationManagerInfo")
    for store in getattr(info, "authConfig", None) or []:
        if hasattr(store, "joinedDomain"):
            return str(store.joinedDomain or "")
    return None


def _same(a: str, b: str) -> bool:
    return a.rstrip(".").lower() == b.rstrip(".").lower()


class HostActiveDirectory(Controller):
    name = "activeDirectory"
    order = 75
    spec_key = "activeDirectory"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ("config.authenticationManagerInfo", AUTH)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        if DOMAIN not in desired:
            return []
        want = str(desired[DOMAIN])
        current = joined_domain(state)
        if current is None or state.props.get(AUTH) is None:
            return [FieldDiff(DOMAIN, current or None, want, skip=Skip.UNSUPPORTED,
                              message="the host reports no Active Directory authentication store")]
        if _same(current, want):
            return []
        if current:
            return [FieldDiff(DOMAIN, current, want, skip=Skip.AUDIT,
                              message=f"audit only: the host is joined to {current}; vsr never leaves a domain")]
        if USER_FILE not in desired or PASSWORD_FILE not in desired:
            return [FieldDiff(DOMAIN, None, want, skip=Skip.AUDIT, message=JOIN_REASON)]
        try:
            _account(desired)
        except SettingsError as exc:
            return [FieldDiff(DOMAIN, None, want, skip=Skip.INVALID, message=str(exc))]
        return [FieldDiff(DOMAIN, None, want, message=f"joins with the account in {desired[USER_FILE]}")]

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        user, password = _account(desired)
        stores = state.props[AUTH].supportedStore or []
        store = next(s for s in stores if isinstance(s, vim.host.ActiveDirectoryAuthentication))
        tasks.run(conn, store.JoinDomain_Task, domainName=str(diffs[0].desired), userName=user, password=password)


def _account(desired: Mapping[FieldPath, Any]) -> tuple[str, str]:
    """The joining account from its files; raises SettingsError naming a file, never its content."""
    user = read_secret_file(str(desired[USER_FILE]), "activeDirectory.joinUsernameFile", one_line=True)
    return user, read_secret_file(str(desired[PASSWORD_FILE]), "activeDirectory.joinPasswordFile")
