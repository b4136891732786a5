"""Host-local accounts and their permission on the host's root (seed 000, non-root administration):
`localAccounts.<name>.present`, `.description`, `.shellAccess`, `.role`, parameter `.passwordFile`.

Only the accounts a policy lists are managed; every other account and permission is left alone.

Where the state comes from: a host's local accounts are listed by its own `UserDirectory.RetrieveUserGroups`
(`PosixUserSearchResult`: name, description, shell access) and its permissions by its own
`AuthorizationManager.RetrieveEntityPermissions(rootFolder)`. Both are services of the host's own API, so they are
read only over a direct connection (one call each: a polled source, read by every plan, right after vsr's writes
and by the daemon on the poll interval). Through vCenter those services are vCenter's (SSO users, vCenter
permissions), so the fields are reported `unsupported` with that reason.

Passwords: a password cannot be read back, so it is never compared. vsr sets it from `passwordFile` when it
creates the account and never afterwards (creating an account without `passwordFile` is `invalid`). The file's
content is read at apply time only and goes nowhere but the `CreateUser` call.

Guard: over a direct connection vsr refuses to remove, or give another role than `Admin` to, the account it logs
in with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers import esx_users
from reconciler.controllers.base import Controller
from reconciler.controllers.contract import ConnectionFacts, FieldDiff, FieldPath, ObjectState, Polled, Skip
from reconciler.vsphere.protocol import Connection
from reconciler.vsphere.settings import read_secret_file

SECTION = "localAccounts"
ACCOUNT_MANAGER = "configManager.accountManager"
SOURCE = "localAccounts"  # the polled read: accounts, root permissions, roles
NO_ROLE = "none"
ADMIN = "Admin"
ATTRS = ("present", "description", "shellAccess", "role")
THROUGH_VCENTER = ("a host's local accounts and permissions are kept by the host's own UserDirectory and "
                   "AuthorizationManager, which vCenter does not expose (its own are vCenter's); connect to the "
                   "host directly to manage them")


def accounts_of(desired: Mapping[FieldPath, Any]) -> dict[str, dict[str, Any]]:
    """The desired attributes by account name (parameters included)."""
    out: dict[str, dict[str, Any]] = {}
    for path, value in desired.items():
        if len(path) == 3 and path[0] == SECTION:
            out.setdefault(path[1], {})[path[2]] = value
    return out


def observed(users: list[Any], permissions: list[Any], roles: list[Any]) -> dict[str, Any]:
    """Pure: the host's accounts {name: (description, shellAccess)} and user permissions on the root {name: role
    name}, from RetrieveUserGroups, RetrieveEntityPermissions(root) and roleList."""
    role_names = {r.roleId: r.name for r in roles}
    accounts = {u.principal: (u.fullName or "", getattr(u, "shellAccess", None))
                for u in users if not getattr(u, "group", False)}
    perms = {p.principal: role_names.get(p.roleId, str(p.roleId)) for p in permissions if not p.group}
    return {"accounts": accounts, "permissions": perms, "roles": {r.name: r.roleId for r in roles}}


def account_diffs(name: str, want: Mapping[str, Any], seen: Mapping[str, Any]) -> list[FieldDiff]:
    """Pure: the diffs of one listed account against what the host has (`seen` as `observed` returns it)."""
    def path(attr: str) -> FieldPath:
        return (SECTION, name, attr)

    exists = name in seen["accounts"]
    present = want.get("present", True)
    if not present:
        return [FieldDiff(path("present"), True, False, subject=f"account {name}")] if exists else []
    diffs: list[FieldDiff] = []
    if not exists:
        skip, message = (None, "") if want.get("passwordFile") else (
            Skip.INVALID, "creating the account needs passwordFile (a password cannot be empty)")
        diffs.append(FieldDiff(path("present"), False, True, subject=f"account {name}", skip=skip, message=message))
    description, shell = seen["accounts"].get(name, (None, None))
    if "description" in want and (not exists or description != want["description"]):
        diffs.append(FieldDiff(path("description"), description, want["description"], subject=f"account {name}"))
    if "shellAccess" in want and (not exists or shell != want["shellAccess"]):
        diffs.append(FieldDiff(path("shellAccess"), shell, want["shellAccess"], subject=f"account {name}"))
    if "role" in want:
        role = seen["permissions"].get(name, NO_ROLE)
        wanted = want["role"]
        if role != wanted:
            bad = wanted != NO_ROLE and wanted not in seen["roles"]
            diffs.append(FieldDiff(path("role"), role if exists else None, wanted, subject=f"account {name}",
                                   skip=Skip.INVALID if bad else None,
                                   message=f"the host has no role {wanted!r} (roles: {', '.join(sorted(seen['roles']))})"
                                   if bad else ""))
    return diffs


def read_accounts(conn: Connection, state: ObjectState, desired: Mapping[FieldPath, Any]) -> dict[str, Any] | None:
    """Over a direct connection (one host): its accounts, root permissions and roles, one call each; None through
    vCenter (whose user directory and permissions are vCenter's own)."""
    if conn.is_vcenter:
        return None
    content = conn.content
    users = conn.call(content.userDirectory.RetrieveUserGroups, searchStr="", exactMatch=False,
                      findUsers=True, findGroups=False) or []
    authz = content.authorizationManager
    permissions = conn.call(authz.RetrieveEntityPermissions, entity=content.rootFolder, inherited=False) or []
    return observed(list(users), list(permissions), list(authz.roleList or []))


class HostLocalAccounts(Controller):
    name = "localAccounts"
    order = 82  # after the other host settings (certificate 80), before lockdown (90)
    spec_key = SECTION
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = (ACCOUNT_MANAGER,)

    polled = (Polled(SOURCE, via=ACCOUNT_MANAGER, method="RetrieveUserGroups", reader=read_accounts),)

    def observe(self, state: ObjectState) -> None:
        read = state.polled.get(SOURCE)
        if read is None:
            return
        if read.value is None:
            state.own(self.name)["unsupported"] = THROUGH_VCENTER
        else:
            state.own(self.name)["seen"] = read.value

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        own = state.own(self.name)
        wanted = accounts_of(desired)
        if own.get("unsupported"):
            return [FieldDiff((SECTION, name, attr), None, want[attr], subject=f"account {name}",
                              skip=Skip.UNSUPPORTED, message=own["unsupported"])
                    for name, want in sorted(wanted.items()) for attr in ATTRS if attr in want]
        seen = own.get("seen")
        if seen is None:
            raise RuntimeError("the host's local accounts were not read")
        return [d for name, want in sorted(wanted.items()) for d in account_diffs(name, want, seen)]

    def guard(self, diff: FieldDiff, desired: Mapping[FieldPath, Any], state: ObjectState,
              facts: ConnectionFacts) -> str | None:
        """Never remove or demote the account vsr logs in with (direct connections: through vCenter the fields are
        unsupported, and vCenter reaches the host as vpxuser)."""
        if facts.is_vcenter or not esx_users.same_account(facts.username, diff.path[1]):
            return None
        attr = diff.path[2]
        if attr == "present" and diff.desired is False:
            return (f"refusing to remove local account {diff.path[1]!r}: the reconciler logs in to this host "
                    f"with it ({facts.who})")
        if attr == "role" and diff.desired != ADMIN:
            return (f"refusing role {diff.desired!r} for local account {diff.path[1]!r}: the reconciler logs in to "
                    f"this host with it ({facts.who}) and needs the Admin role")
        return None

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        manager = state.props[ACCOUNT_MANAGER]
        content = conn.content
        wanted = accounts_of(desired)
        by_account: dict[str, dict[str, FieldDiff]] = {}
        for d in diffs:
            by_account.setdefault(d.path[1], {})[d.path[2]] = d
        for name, changes in sorted(by_account.items()):
            want = wanted.get(name, {})
            present = changes.get("present")
            if present is not None and present.desired is False:
                conn.call(manager.RemoveUser, userName=name)  # ESXi removes the account's permissions with it
                continue
            spec = vim.host.LocalAccountManager.PosixAccountSpecification(id=name)
            if "description" in changes:
                spec.description = changes["description"].desired
            if "shellAccess" in changes:
                spec.shellAccess = changes["shellAccess"].desired
            if present is not None:
                spec.password = read_secret_file(want["passwordFile"], f"{SECTION}.{name}.passwordFile")
                conn.call(manager.CreateUser, user=spec)
            elif "description" in changes or "shellAccess" in changes:
                conn.call(manager.UpdateUser, user=spec)
            role = changes.get("role")
            if role is None:
                continue
            authz = content.authorizationManager
            if role.desired == NO_ROLE:
                conn.call(authz.RemoveEntityPermission, entity=content.rootFolder, user=name, isGroup=False)
            else:
                role_id = state.own(self.name)["seen"]["roles"][role.desired]  # read by prefetch
                permission = vim.AuthorizationManager.Permission(principal=name, group=False, roleId=role_id,
                                                                 propagate=True)
                conn.call(authz.SetEntityPermissions, entity=content.rootFolder, permission=[permission])
