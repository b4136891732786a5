"""Lockdown mode and its exception users (HostAccessManager): `lockdown.mode`, `lockdown.exceptionUsers`.

Exception users have no property: `QueryLockdownExceptions` is a method, called once per host and only for hosts
whose policy manages lockdown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.controllers.base import ConnectionFacts, Controller, ObjectState
from reconciler.engine.types import FieldDiff, FieldPath, Impact

MODES = {"disabled": "lockdownDisabled", "normal": "lockdownNormal", "strict": "lockdownStrict"}
SPEC_MODES = {v: k for k, v in MODES.items()}

MODE = ("lockdown", "mode")
USERS = ("lockdown", "exceptionUsers")


def _current_mode(state: ObjectState) -> str | None:
    raw = state.props.get("config.lockdownMode")
    return SPEC_MODES.get(str(raw)) if raw is not None else None


def _user_matches(user: str, candidates: set[str]) -> bool:
    """Exception users may be written with or without a domain prefix (`DOMAIN\\svc` vs `svc`)."""
    short = user.split("\\")[-1].split("@")[0].lower()
    return any(c.lower() == user.lower() or c.split("\\")[-1].split("@")[0].lower() == short for c in candidates)


class HostLockdown(Controller):
    name = "lockdown"
    spec_key = "lockdown"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ("config.lockdownMode", "configManager.hostAccessManager")

    def prefetch(self, conn: Any, states: list[ObjectState], desired: Mapping[str, Mapping[FieldPath, Any]]) -> None:
        for state in states:
            if not desired.get(state.ref.moid) or "lockdown_exceptions" in state.extra:
                continue
            manager = state.props.get("configManager.hostAccessManager")
            if manager is None:
                state.extra["lockdown_exceptions"] = None
                continue
            state.extra["lockdown_exceptions"] = sorted(conn.call(manager.QueryLockdownExceptions) or [])

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        diffs: list[FieldDiff] = []
        if MODE in desired:
            current = _current_mode(state)
            if current != desired[MODE]:
                impact = Impact.DISRUPTIVE if desired[MODE] != "disabled" else Impact.NONE
                diffs.append(FieldDiff(MODE, current, desired[MODE], impact=impact))
        if USERS in desired:
            current_users = state.extra.get("lockdown_exceptions")
            want = sorted(set(desired[USERS]))
            if current_users is None or set(current_users) != set(want):
                diffs.append(FieldDiff(USERS, current_users, want))
        return diffs

    def guard(self, diff: FieldDiff, desired: Mapping[FieldPath, Any], state: ObjectState,
              facts: ConnectionFacts) -> str | None:
        if facts.is_vcenter:
            return None  # vCenter keeps its access through vpxuser in every lockdown mode
        final_mode = desired.get(MODE, _current_mode(state))
        final_users = set(desired.get(USERS, state.extra.get("lockdown_exceptions") or []))
        if final_mode in ("normal", "strict") and not _user_matches(facts.username, final_users):
            return (f"refusing lockdown mode {final_mode!r}: the reconciler connects directly to this host as "
                    f"{facts.username!r}, which is not a lockdown exception user; add it to "
                    "lockdown.exceptionUsers or connect through vCenter")
        return None

    def apply(self, conn: Any, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        manager = state.props["configManager.hostAccessManager"]
        by_path = {d.path: d for d in diffs}
        # exceptions first: entering lockdown must never precede the exception that keeps access
        if USERS in by_path:
            conn.call(manager.UpdateLockdownExceptions, users=list(by_path[USERS].desired))
        if MODE in by_path:
            conn.call(manager.ChangeLockdownMode, mode=MODES[by_path[MODE].desired])
