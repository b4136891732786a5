"""Event model with Kubernetes event semantics (type, CamelCase reason, count, firstSeen, lastSeen)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from reconciler.api.fields import render_field_path

NORMAL = "Normal"
WARNING = "Warning"
TYPES = (NORMAL, WARNING)

# Reasons used by vsr (others are allowed if CamelCase).
DRIFT_DETECTED = "DriftDetected"
DRIFT_REMEDIATED = "DriftRemediated"
REMEDIATION_FAILED = "RemediationFailed"
REMEDIATION_BLOCKED = "RemediationBlocked"
WAIVED = "Waived"
WAIVER_EXPIRED = "WaiverExpired"
SPEC_INVALID = "SpecInvalid"
DRIFT_FLAPPING = "DriftFlapping"
TARGET_NOT_FOUND = "TargetNotFound"
UNSUPPORTED = "Unsupported"
REMEDIATION_STARTED = "RemediationStarted"        # write-ahead intent: committed before the vSphere write
REMEDIATION_UNVERIFIED = "RemediationUnverified"  # the read-back after a write failed: outcome unknown

_REASON = re.compile(r"^[A-Z][A-Za-z0-9]*$")


@dataclass(frozen=True)
class ObjectRef:
    """The object an event is about. ``type`` is the vSphere type (``HostSystem``) or a vsr kind
    (``HostSecurityPolicy`` for spec events); ``vcenter`` is the VCenter document name."""

    type: str
    moid: str
    name: str = ""
    vcenter: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "moid": self.moid, "name": self.name, "vcenter": self.vcenter}

    def __str__(self) -> str:
        label = f"{self.type}/{self.name or self.moid}"
        return f"{label} ({self.moid})" if self.name and self.name != self.moid else label


def render_path(path: str | Sequence[str] | None) -> str | None:
    """Field paths are tuples internally (keys may contain dots); events store them rendered with dots."""
    if path is None or isinstance(path, str):
        return path
    return render_field_path(tuple(str(p) for p in path))


@dataclass(frozen=True)
class Event:
    """Something that happened to an object. Never put a credential in any field."""

    type: str
    reason: str
    object: ObjectRef
    message: str
    path: str | None = None
    policy: str | None = None
    source: str | None = None          # file:line of the spec field that asked for it
    current: Any = None
    desired: Any = None
    intent: str | None = None          # RemediationStarted: its id; an outcome event: the intent it settles

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"event type must be Normal or Warning, got {self.type!r}")
        if not _REASON.match(self.reason or ""):
            raise ValueError(f"event reason must be CamelCase, got {self.reason!r}")
        object.__setattr__(self, "path", render_path(self.path))

    @property
    def dedup_key(self) -> tuple[str, str, str, str, str]:
        """Events with the same key are one event with a count (Kubernetes aggregation)."""
        return (self.object.vcenter, self.object.moid, self.reason, self.path or "", self.message)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with microseconds and ``Z`` (fixed width, so text order is time order)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class StoredEvent:
    """An event as kept in the journal: the event plus its aggregation counters."""

    id: int
    event: Event
    count: int
    first_seen: datetime
    last_seen: datetime
    seq: int = 0                        # change sequence: grows on every insert or count update

    def __getattr__(self, name: str) -> Any:
        # Convenience: stored.reason, stored.object, ... read through to the event.
        if name in ("type", "reason", "object", "message", "path", "policy", "source", "current", "desired",
                    "intent"):
            return getattr(self.event, name)
        raise AttributeError(name)

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON field names (``vsr events -o json``)."""
        e = self.event
        return {
            "type": e.type, "reason": e.reason, "object": e.object.to_dict(), "path": e.path,
            "message": e.message, "policy": e.policy, "source": e.source,
            "current": e.current, "desired": e.desired, "count": self.count,
            "firstSeen": format_time(self.first_seen),
            "lastSeen": format_time(self.last_seen),
            **({"intent": e.intent} if e.intent else {}),   # write-ahead intents and the outcomes settling them
        }
