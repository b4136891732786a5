"""Turning plan and apply results into journal events (Kubernetes event semantics)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from reconciler.api.issues import SpecIssue
from reconciler.controllers.contract import Skip
from reconciler.engine.types import Change, Outcome, render_path
from reconciler.engine.waivers import WaiverRule
from reconciler.events import model as ev

_SKIP_EVENTS: dict[Skip, tuple[str, str]] = {
    Skip.WAIVED: (ev.NORMAL, ev.WAIVED),
    Skip.UNSUPPORTED: (ev.WARNING, ev.UNSUPPORTED),
    Skip.GUARD: (ev.WARNING, ev.REMEDIATION_BLOCKED),
    Skip.CONFLICT: (ev.WARNING, "PolicyConflict"),
    Skip.INVALID: (ev.WARNING, "InvalidValue"),
    Skip.FLAPPING: (ev.WARNING, ev.DRIFT_FLAPPING),
    Skip.NEEDS_POWER_OFF: (ev.WARNING, "PendingPowerOff"),
    Skip.PENDING_POWER_CYCLE: (ev.NORMAL, "PendingPowerCycle"),
    Skip.NEEDS_REBOOT: (ev.WARNING, "PendingReboot"),
    Skip.PENDING_REBOOT: (ev.NORMAL, "PendingReboot"),
    Skip.NEEDS_FIRMWARE_CHANGE: (ev.WARNING, "NeedsFirmwareChange"),
}


def short_value(value: Any) -> str:
    """A value for one-line messages: strings as they are, everything else as JSON."""
    return json.dumps(value, default=str) if not isinstance(value, str) else value


def describe(change: Change) -> str:
    where = f" on {change.subject}" if change.subject else ""
    return f"{render_path(change.path)}{where}: {short_value(change.current)} -> {short_value(change.desired)}"


def _event(change: Change, type_: str, reason: str, message: str) -> ev.Event:
    return ev.Event(type=type_, reason=reason, object=change.object, message=message, path=render_path(change.path),
                    policy=change.policy or None, source=change.source or None,
                    current=change.current, desired=change.desired)


def detection_events(changes: Iterable[Change]) -> list[ev.Event]:
    """What a plan saw: drift, and why some of it will not be changed."""
    out: list[ev.Event] = []
    for change in changes:
        if change.reason is None or change.reason is Skip.AUDIT:
            out.append(_event(change, ev.WARNING, ev.DRIFT_DETECTED, describe(change)))
        elif change.reason in _SKIP_EVENTS:
            type_, reason = _SKIP_EVENTS[change.reason]
            out.append(_event(change, type_, reason, f"{describe(change)}: {change.message}"))
    return out


def outcome_events(changes: Iterable[Change]) -> list[ev.Event]:
    """What an apply did."""
    out: list[ev.Event] = []
    for change in changes:
        if change.outcome is Outcome.APPLIED:
            out.append(_event(change, ev.NORMAL, ev.DRIFT_REMEDIATED, describe(change)))
        elif change.outcome is Outcome.NOT_EFFECTIVE:
            out.append(_event(change, ev.WARNING, ev.REMEDIATION_FAILED,
                              f"{describe(change)}: applied but not effective"))
        elif change.outcome is Outcome.FAILED:
            out.append(_event(change, ev.WARNING, ev.REMEDIATION_FAILED, f"{describe(change)}: {change.error}"))
        elif change.outcome is Outcome.SKIPPED and change.reason is Skip.UNSUPPORTED:
            out.append(_event(change, ev.WARNING, ev.UNSUPPORTED, f"{describe(change)}: {change.message}"))
        elif change.outcome is Outcome.SKIPPED and change.reason is Skip.GUARD:  # refused at apply time
            out.append(_event(change, ev.WARNING, ev.REMEDIATION_BLOCKED, f"{describe(change)}: {change.message}"))
    return out


def spec_event(issue: SpecIssue) -> ev.Event:
    """A spec document that failed to load (SpecInvalid)."""
    ref = ev.ObjectRef(type=issue.kind or "File", moid=f"{issue.kind or 'File'}/{issue.name or issue.file}",
                       name=issue.name or issue.file)
    return ev.Event(type=ev.WARNING, reason=ev.SPEC_INVALID, object=ref, message=str(issue), path=issue.path or None,
                    source=f"{issue.file}:{issue.line}")


def expired_event(rule: WaiverRule) -> ev.Event:
    """A waiver past its expiry date (WaiverExpired): its fields are enforced again."""
    ref = ev.ObjectRef(type="Waiver", moid=f"Waiver/{rule.name}", name=rule.name)
    return ev.Event(type=ev.WARNING, reason=ev.WAIVER_EXPIRED, object=ref, source=rule.source,
                    message=f"waiver {rule.name} expired on {rule.expires.isoformat()} ({rule.owner}); "
                            "its fields are enforced again")


def unmatched_event(policy: Any) -> ev.Event:
    """A policy whose selector matches no object of its vCenters (TargetNotFound)."""
    ref = ev.ObjectRef(type=policy.kind, moid=f"{policy.kind}/{policy.name}", name=policy.name)
    return ev.Event(type=ev.WARNING, reason=ev.TARGET_NOT_FOUND, object=ref, source=policy.source,
                    message=f"policy {policy.name}: its selector matches no object; check the selector "
                            "(an empty selector matches nothing)")
