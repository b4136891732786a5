"""Core value types of planning: field paths, desired values and changes.

A field path is a tuple of spec keys below `spec` (`("advancedSettings", "Mem.ShareForceSalting")`): advanced
setting keys contain dots, so the tuple is the identity and `render_path` is only for people.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from reconciler.api.fields import FieldPath
from reconciler.api.fields import render_field_path as render_path
from reconciler.events.model import ObjectRef


class Impact(str, Enum):
    NONE = "none"
    POWER_CYCLE = "powerCycle"
    REBOOT = "reboot"
    DISRUPTIVE = "disruptive"


class Skip(str, Enum):
    """Why a change is not applied. `None` on a Change means it will be (or was) applied."""

    AUDIT = "audit"
    WAIVED = "waived"
    NEEDS_POWER_OFF = "needsPowerOff"
    PENDING_POWER_CYCLE = "pendingPowerCycle"
    NEEDS_FIRMWARE_CHANGE = "needsFirmwareChange"
    UNSUPPORTED = "unsupported"
    GUARD = "guard"
    CONFLICT = "conflict"
    INVALID = "invalid"
    FLAPPING = "flapping"
    SUSPENDED = "suspended"
    STALE = "stale"                    # applying a saved plan: the live value is no longer the planned one
    NOT_IN_SAVED_PLAN = "notInSavedPlan"  # applying a saved plan: this drift appeared after it was saved


class Outcome(str, Enum):
    """What happened to a change during apply."""

    PLANNED = "planned"
    APPLIED = "applied"
    NOT_EFFECTIVE = "notEffective"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"  # written (or maybe written), but the read-back failed: the next pass verifies it


@dataclass(frozen=True)
class DesiredValue:
    """One field's desired value and where it came from."""

    value: Any
    policy: str
    source: str  # "file:line"
    enforce: bool = True
    priority: int = 0


@dataclass(frozen=True)
class FieldDiff:
    """A controller's verdict on one field of one object, before policy bookkeeping is attached.

    `subject` names the sub-object when one field applies to several (a vSwitch, a portgroup).
    `skip` is set by the controller for reasons it alone can know (unsupported key, needs power-off)."""

    path: FieldPath
    current: Any
    desired: Any
    subject: str = ""
    impact: Impact = Impact.NONE
    skip: Skip | None = None
    message: str = ""


@dataclass
class Change:
    object: ObjectRef
    controller: str
    path: FieldPath
    current: Any
    desired: Any
    impact: Impact = Impact.NONE
    policy: str = ""
    source: str = ""
    subject: str = ""
    controls: tuple[str, ...] = ()
    reason: Skip | None = None
    message: str = ""
    outcome: Outcome = Outcome.PLANNED
    error: str = ""

    @property
    def actionable(self) -> bool:
        return self.reason is None

    @property
    def counts_as_drift(self) -> bool:
        """Waived drift and settings waiting for a VM's cold start are shown but do not count for exit codes."""
        return self.reason not in (Skip.WAIVED, Skip.PENDING_POWER_CYCLE) and self.outcome is not Outcome.APPLIED

    def with_(self, **kw: Any) -> "Change":
        return replace(self, **kw)

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.object.to_dict(),
            "controller": self.controller,
            "path": render_path(self.path),
            "subject": self.subject or None,
            "current": jsonable(self.current),
            "desired": jsonable(self.desired),
            "impact": self.impact.value,
            "reason": self.reason.value if self.reason else None,
            "message": self.message or None,
            "policy": self.policy,
            "source": self.source,
            "controls": list(self.controls),
            "outcome": self.outcome.value,
            "error": self.error or None,
        }


@dataclass
class ObjectProblem:
    """A fault that stopped one object (fetch failed, apply faulted) without stopping the others."""

    object: ObjectRef
    message: str
    controller: str = ""


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    problems: list[ObjectProblem] = field(default_factory=list)
    unmanaged: list[ObjectRef] = field(default_factory=list)
    objects_checked: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def drift(self) -> list[Change]:
        return [c for c in self.changes if c.counts_as_drift]

    def exit_code(self) -> int:
        if self.problems:
            return 1
        return 2 if self.drift else 0


def jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)
