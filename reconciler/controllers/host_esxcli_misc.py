"""Small esxcli-backed host settings: `keyPersistence` (esxcli system security keypersistence get/enable/disable),
`logFiltering` (esxcli system syslog config logfilter get/set) and `shellAccess.<account>` (esxcli system account
list/set). Disabling the shell access of the account vsr logs in with, on a direct connection, is refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.controllers import esx_users
from reconciler.controllers import esxcli_common as common
from reconciler.controllers.contract import ConnectionFacts, FieldDiff, FieldPath, ObjectState, Polled, Skip
from reconciler.vsphere.esxcli import Command
from reconciler.vsphere.protocol import Connection

KEYS = "esxcli.keyPersistence"
KEY_PERSISTENCE = ("keyPersistence",)
LOGFILTER = "esxcli.logFilter"
LOG_FILTERING = ("logFiltering",)
ACCOUNTS = "esxcli.accounts"


class HostKeyPersistence(common.EsxcliController):
    name = "keyPersistence"
    order = 76
    spec_key = "keyPersistence"
    polled = (Polled(KEYS, esxcli=Command("system security keypersistence", "get")),)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        if KEY_PERSISTENCE not in desired:
            return []
        current = common.flag(common.struct(state, KEYS), "Enabled")
        want = desired[KEY_PERSISTENCE]
        return [] if current is want else [FieldDiff(KEY_PERSISTENCE, current, want)]

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        if diffs[0].desired:
            common.run(conn, state, Command("system security keypersistence", "enable"))
        else:  # as the STIG fix does: keys already persisted are removed with it
            common.run(conn, state, Command("system security keypersistence", "disable"), removeallstoredkeys=True)


class HostLogFiltering(common.EsxcliController):
    name = "logFiltering"
    order = 77
    spec_key = "logFiltering"
    polled = (Polled(LOGFILTER, esxcli=Command("system syslog config logfilter", "get")),)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        if LOG_FILTERING not in desired:
            return []
        current = common.flag(common.struct(state, LOGFILTER), "LogFilteringEnabled")
        want = desired[LOG_FILTERING]
        return [] if current is want else [FieldDiff(LOG_FILTERING, current, want)]

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        common.run(conn, state, Command("system syslog config logfilter", "set"),
                   logfilteringenabled=bool(diffs[0].desired))


class HostShellAccess(common.EsxcliController):
    name = "shellAccess"
    order = 78
    spec_key = "shellAccess"
    polled = (Polled(ACCOUNTS, esxcli=Command("system account", "list")),)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        accounts = common.rows(state, ACCOUNTS, "UserID")
        diffs: list[FieldDiff] = []
        for path, want in sorted(desired.items()):
            if path[0] != self.spec_key:
                continue
            row = accounts.get(path[1])
            if row is None:
                diffs.append(FieldDiff(path, None, want, skip=Skip.UNSUPPORTED,
                                       message=f"host {state.ref.name} has no local account {path[1]!r}"))
                continue
            current = common.flag(row, "Shellaccess")
            if current is not want:
                diffs.append(FieldDiff(path, current, want))
        return diffs

    def guard(self, diff: FieldDiff, desired: Mapping[FieldPath, Any], state: ObjectState,
              facts: ConnectionFacts) -> str | None:
        """The account vsr logs in with directly keeps its shell access (through vCenter, vsr is not a host user)."""
        if facts.is_vcenter or diff.desired is not False:
            return None
        mine = esx_users.parse(facts.username) or esx_users.Account("local", facts.username)
        if mine.kind != "local" or diff.path[1].lower() != mine.user.lower():
            return None
        return (f"refusing to disable the shell access of {diff.path[1]!r}: the reconciler connects directly to "
                f"this host as {facts.who}; connect through vCenter or manage another account")

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        for d in diffs:
            common.run(conn, state, Command("system account", "set"), id=d.path[1], shellaccess=bool(d.desired))
