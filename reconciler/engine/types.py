"""The engine's value types: desired values, changes, outcomes, problems and plans.

The controller contract (field paths, `FieldDiff`, `Impact`, `Skip`, `ObjectState`) lives in
`reconciler.controllers.contract`; `render_path` renders a field path for people.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from reconciler.api.fields import render_field_path
from reconciler.controllers.contract import FieldPath, Impact, Skip
from reconciler.events.model import ObjectRef

#: a field path rendered for people (dots between keys); the engine's modules import it from here
render_path = render_field_path


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
    read_at: dt.datetime | None = None  # when the polled source this field's current value comes from was read

    @property
    def actionable(self) -> bool:
        return self.reason is None

    @property
    def counts_as_drift(self) -> bool:
        """Waived drift and settings waiting for a VM's cold start are shown but do not count for exit codes."""
        return self.reason not in (Skip.WAIVED, Skip.PENDING_POWER_CYCLE, Skip.PENDING_REBOOT) and self.outcome is not Outcome.APPLIED

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
            **({"readAt": self.read_at.isoformat().replace("+00:00", "Z")} if self.read_at else {}),
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
