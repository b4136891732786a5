"""Lockdown mode and its exception users (HostAccessManager): `lockdown.mode`, `lockdown.exceptionUsers`.

Exception users have no property: `QueryLockdownExceptions` is a method, declared as a polled source (read per
host whose policy manages lockdown, on the source's interval and right after vsr's writes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.controllers import esx_users
from reconciler.controllers.base import Controller
from reconciler.controllers.contract import ConnectionFacts, FieldDiff, FieldPath, Impact, ObjectState, Polled
from reconciler.vsphere.protocol import Connection

MODES = {"disabled": "lockdownDisabled", "normal": "lockdownNormal", "strict": "lockdownStrict"}
SPEC_MODES = {v: k for k, v in MODES.items()}

ACCESS_MANAGER = "configManager.hostAccessManager"
EXCEPTIONS = "lockdownExceptions"  # the polled source: HostAccessManager.QueryLockdownExceptions()
MODE = ("lockdown", "mode")
USERS = ("lockdown", "exceptionUsers")


def _current_mode(state: ObjectState) -> str | None:
    raw = state.props.get("config.lockdownMode")
    return SPEC_MODES.get(str(raw)) if raw is not None else None


class HostLockdown(Controller):
    name = "lockdown"
    order = 90  # last among host controllers: lockdown after every other host setting (STIG order)
    spec_key = "lockdown"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ("config.lockdownMode",)
    polled = (Polled(EXCEPTIONS, via=ACCESS_MANAGER, method="QueryLockdownExceptions"),)

    def observe(self, state: ObjectState) -> None:
        read = state.polled.get(EXCEPTIONS)
        if read is not None:
            state.own(self.name)["exceptions"] = None if read.value is None else sorted(read.value or [])

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        diffs: list[FieldDiff] = []
        if MODE in desired:
            current = _current_mode(state)
            if current != desired[MODE]:
                impact = Impact.DISRUPTIVE if desired[MODE] != "disabled" else Impact.NONE
                diffs.append(FieldDiff(MODE, current, desired[MODE], impact=impact))
        if USERS in desired:
            current_users = state.own(self.name).get("exceptions")
            want = sorted(set(desired[USERS]))
            if current_users is None or set(current_users) != set(want):
                diffs.append(FieldDiff(USERS, current_users, want))
        return diffs

    def guard(self, diff: FieldDiff, desired: Mapping[FieldPath, Any], state: ObjectState,
              facts: ConnectionFacts) -> str | None:
        """Over a direct connection, the end state (mode, exception users) must still admit vsr's account.
        `desired` holds only the values that will be applied; the rest is what the host has now."""
        if facts.is_vcenter:
            return None  # vCenter keeps its access through vpxuser in every lockdown mode
        values = {**desired, diff.path: diff.desired}
        mode = values[MODE] if MODE in values else _current_mode(state)
        users = values[USERS] if USERS in values else state.own(self.name).get("exceptions")
        if mode == "disabled":
            return None
        if mode is None:
            return (f"refusing to change lockdown exception users: the host's lockdown mode is unknown and the "
                    f"reconciler connects directly to it as {facts.who}")
        if users is None:
            return (f"refusing lockdown mode {mode!r}: the host's lockdown exception users could not be read, so "
                    f"vsr cannot tell whether {facts.who} keeps its direct access")
        if esx_users.admitted(facts.username, users):
            return None
        hint = _near_miss(facts.username, users, facts.who)
        if diff.path == USERS:
            stays = "stays" if mode == _current_mode(state) else "would be"
            return (f"refusing lockdown exception users {sorted(set(users))}: the host {stays} in lockdown mode "
                    f"{mode!r} and the reconciler connects directly to it as {facts.who}, which that list "
                    f"does not admit; keep it in lockdown.exceptionUsers or connect through vCenter{hint}")
        return (f"refusing lockdown mode {mode!r}: the reconciler connects directly to this host as "
                f"{facts.who}, which is not a lockdown exception user; add it to "
                f"lockdown.exceptionUsers or connect through vCenter{hint}")

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        manager = state.props[ACCESS_MANAGER]
        for d in apply_order(diffs):
            if d.path == USERS:
                conn.call(manager.UpdateLockdownExceptions, users=list(d.desired))
            else:
                conn.call(manager.ChangeLockdownMode, mode=MODES[d.desired])


def apply_order(diffs: list[FieldDiff]) -> list[FieldDiff]:
    """Entering (or staying in) lockdown: exception users first, so that no moment has lockdown without the
    exception that keeps access. Leaving lockdown: the mode first, so that removing an exception user never
    happens while the host is still locked down. A failed call stops the rest, leaving a safe host either way."""
    by_path = {d.path: d for d in diffs}
    leaving = MODE in by_path and by_path[MODE].desired == "disabled"
    order = (MODE, USERS) if leaving else (USERS, MODE)
    return [by_path[p] for p in order if p in by_path]


def _near_miss(login: str, users: list[str], who: str) -> str:
    """A hint when an entry looks like the login but is not the same account (case, domain)."""
    mine = (esx_users.parse(login) or esx_users.Account("local", login)).user.lower()
    similar = sorted(u for u in users if (esx_users.parse(u) or esx_users.Account("local", u)).user.lower() == mine)
    if not similar:
        return ""
    return f" ({', '.join(map(repr, similar))} is not the same account: {esx_users.why_not(login, who)})"
