"""The daemon's `/status` model: per-policy conditions and counts, per-vCenter connection state, readiness.

Conditions follow Kubernetes conventions (`metav1.Condition`): `type`, `status` ("True" | "False" | "Unknown"),
CamelCase `reason`, `message`, and `lastTransitionTime`, which changes only when `status` changes.
The loop writes into a `StatusBoard`; the HTTP server reads `to_dict()`. Thread-safe.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

WallClock = Callable[[], datetime]

READY, DRIFTED, STALLED = "Ready", "Drifted", "Stalled"
CONDITION_TYPES = (READY, DRIFTED, STALLED)
COUNT_KEYS = ("objects", "drifted", "waived", "unsupported", "errors", "flapping")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def document_digest(content: Any) -> str:
    """A stable digest of a policy document's content (any JSON-able value, e.g. `model.model_dump(mode="json")`)."""
    raw = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str
    last_transition_time: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": _iso(self.last_transition_time),
        }


def _status_str(status: bool | str) -> str:
    if isinstance(status, bool):
        return "True" if status else "False"
    if status not in ("True", "False", "Unknown"):
        raise ValueError(f"condition status must be True, False or Unknown, not {status!r}")
    return status


@dataclass
class PolicyStatus:
    name: str
    kind: str = ""
    enforcement: str = ""
    digest: str = ""
    observed_generation: int = 0
    spec_revision: str | None = None
    last_reconcile: datetime | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    conditions: dict[str, Condition] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "enforcement": self.enforcement,
            "observedGeneration": self.observed_generation,
            "specDigest": self.digest,
            "specRevision": self.spec_revision,
            "lastReconcile": _iso(self.last_reconcile),
            "counts": dict(self.counts),
            "conditions": [self.conditions[t].to_dict() for t in CONDITION_TYPES if t in self.conditions]
            + [c.to_dict() for t, c in sorted(self.conditions.items()) if t not in CONDITION_TYPES],
        }


@dataclass
class VCenterStatus:
    name: str
    connected: bool = False
    last_error: str | None = None
    last_full_resync: datetime | None = None
    since: datetime | None = None  # when `connected` last changed
    first_pass_done: bool = False  # every object of this vCenter reconciled once since the loop started

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "connected": self.connected,
            "since": _iso(self.since),
            "lastError": self.last_error,
            "lastFullResync": _iso(self.last_full_resync),
            "firstPassDone": self.first_pass_done,
        }


def derive_conditions(
    counts: dict[str, int], *, audit: bool = False, suspended: bool = False, unmatched: bool = False
) -> list[tuple[str, str, str, str]]:
    """(type, status, reason, message) of Ready, Drifted and Stalled from a policy's counts after a reconcile.

    Stalled: fields flapping or remediation errors (the loop will not get there by retrying alone).
    Drifted: non-waived drift remains. Ready: neither, and not suspended."""
    objects, drifted = counts.get("objects", 0), counts.get("drifted", 0)
    errors, flapping = counts.get("errors", 0), counts.get("flapping", 0)
    if flapping:
        stalled = ("True", "DriftFlapping", f"{flapping} field(s) keep drifting back; no longer re-applied")
    elif errors:
        stalled = ("True", "RemediationFailed", f"{errors} change(s) failed to apply")
    else:
        stalled = ("False", "NoErrors", "no failed or flapping changes")
    if drifted:
        why = "audit only" if audit else ("suspended" if suspended else "remediation pending")
        drift = ("True", "DriftDetected", f"{drifted} field(s) differ from the spec ({why})")
    else:
        drift = ("False", "InSync", f"{objects} object(s) match the spec")
    if suspended:
        ready = ("False", "Suspended", "the policy is suspended")
    elif unmatched:
        ready = ("False", "NoMatchingObjects", "the policy's selector matches no object")
    elif stalled[0] == "True":
        ready = ("False", stalled[1], stalled[2])
    elif drifted:
        ready = ("False", "AuditDrift" if audit else "DriftRemaining", drift[2])
    else:
        ready = ("True", "Converged", drift[2])
    return [(READY, *ready), (DRIFTED, *drift), (STALLED, *stalled)]


class StatusBoard:
    """Live status the loop updates and `/status` / `/readyz` read."""

    def __init__(self, clock: WallClock = utcnow) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._policies: dict[tuple[str, str], PolicyStatus] = {}  # (kind, name) -> status
        self._vcenters: dict[str, VCenterStatus] = {}
        self._first_pass_done = False
        self._specs_loaded = False
        self._loops_running = False
        self._spec_revision: str | None = None
        self._started = clock()
        self._journal_error: str | None = None
        self._journal_condition = Condition("JournalWritable", "True", "Writable",
                                            "intents and outcomes are recorded before and after each write", clock())

    # -- policies -------------------------------------------------------------------------------------------
    # A policy is identified by (kind, name): a HostSecurityPolicy and a VMSecurityPolicy may share a name.
    # `kind` may be omitted when the name alone is unambiguous.

    def _key(self, name: str, kind: str) -> tuple[str, str]:
        if kind:
            return (kind, name)
        matches = [k for k in self._policies if k[1] == name]
        return matches[0] if len(matches) == 1 else ("", name)

    def _get(self, name: str, kind: str) -> PolicyStatus:
        key = self._key(name, kind)
        ps = self._policies.get(key)
        if ps is None:
            ps = self._policies[key] = PolicyStatus(name=name, kind=key[0])
        return ps

    def observe_spec(
        self, name: str, *, kind: str = "", digest: str = "", revision: str | None = None, enforcement: str = ""
    ) -> int:
        """Register policy `name` as loaded from the specs; `observedGeneration` counts changes of `digest`.

        A new policy starts with every condition `Unknown` (`Pending`) until its first reconcile."""
        with self._lock:
            key = self._key(name, kind)
            ps = self._policies.get(key)
            if ps is None:
                ps = self._policies[key] = PolicyStatus(name=name, kind=key[0])
                for t in CONDITION_TYPES:
                    self._set_condition(ps, t, "Unknown", "Pending", "not reconciled yet")
            if digest != ps.digest or ps.observed_generation == 0:
                ps.observed_generation += 1
                ps.digest = digest
            ps.enforcement = enforcement or ps.enforcement
            ps.spec_revision = revision
            return ps.observed_generation

    def retain_policies(self, keep: Iterable[str | tuple[str, str]]) -> None:
        """Forget policies not in `keep` (removed from the specs): names, or (kind, name) pairs."""
        names = {k for k in keep if isinstance(k, str)}
        pairs = {k for k in keep if isinstance(k, tuple)}
        with self._lock:
            for key in [k for k in self._policies if k not in pairs and k[1] not in names]:
                del self._policies[key]

    def set_condition(
        self, policy: str, type_: str, status: bool | str, reason: str, message: str = "", *, kind: str = ""
    ) -> None:
        """Set one condition; `lastTransitionTime` moves only when `status` changes."""
        with self._lock:
            ps = self._get(policy, kind)
            self._set_condition(ps, type_, _status_str(status), reason, message)

    def _set_condition(self, ps: PolicyStatus, type_: str, status: str, reason: str, message: str) -> None:
        old = ps.conditions.get(type_)
        if old is not None and old.status == status:
            old.reason, old.message = reason, message
        else:
            ps.conditions[type_] = Condition(type_, status, reason, message, self._clock())

    def record_reconcile(
        self,
        policy: str,
        *,
        kind: str = "",
        objects: int = 0,
        drifted: int = 0,
        waived: int = 0,
        unsupported: int = 0,
        errors: int = 0,
        flapping: int = 0,
        audit: bool = False,
        suspended: bool = False,
        unmatched: bool = False,
        when: datetime | None = None,
    ) -> None:
        """Store the counts of a finished reconcile of `policy` and derive its conditions from them."""
        counts = {"objects": objects, "drifted": drifted, "waived": waived, "unsupported": unsupported,
                  "errors": errors, "flapping": flapping}  # fmt: skip
        with self._lock:
            ps = self._get(policy, kind)
            ps.counts = counts
            ps.last_reconcile = when or self._clock()
            for type_, status, reason, message in derive_conditions(counts, audit=audit, suspended=suspended,
                                                                     unmatched=unmatched):
                self._set_condition(ps, type_, status, reason, message)

    def policy(self, name: str, kind: str = "") -> dict[str, Any] | None:
        with self._lock:
            ps = self._policies.get(self._key(name, kind))
            return None if ps is None else ps.to_dict()

    # -- vCenters -------------------------------------------------------------------------------------------

    def set_vcenter(self, name: str, connected: bool, error: str | None = None) -> None:
        """Record the connection state; an error is kept (as `lastError`) until the next error replaces it."""
        with self._lock:
            vc = self._vcenters.get(name)
            if vc is None:
                vc = self._vcenters[name] = VCenterStatus(name=name, since=self._clock())
            if vc.connected != connected:
                vc.since = self._clock()
            vc.connected = connected
            if error is not None:
                vc.last_error = error

    def set_vcenter_first_pass(self, name: str, done: bool) -> None:
        with self._lock:
            vc = self._vcenters.get(name)
            if vc is not None:
                vc.first_pass_done = done

    def mark_full_resync(self, name: str, when: datetime | None = None) -> None:
        with self._lock:
            vc = self._vcenters.setdefault(name, VCenterStatus(name=name, since=self._clock()))
            vc.last_full_resync = when or self._clock()

    def retain_vcenters(self, names: Iterable[str]) -> None:
        keep = set(names)
        with self._lock:
            for name in [n for n in self._vcenters if n not in keep]:
                del self._vcenters[name]

    # -- overall --------------------------------------------------------------------------------------------

    def set_spec_revision(self, revision: str | None) -> None:
        with self._lock:
            self._spec_revision = revision

    def mark_first_pass_done(self) -> None:
        with self._lock:
            self._first_pass_done = True

    def set_journal_error(self, message: str | None) -> None:
        """The journal cannot be written (`message`) or works again (`None`). While it fails, nothing is written to
        vSphere and readiness is false; the `JournalWritable` condition in /status says why."""
        with self._lock:
            self._journal_error = message
            status = "False" if message else "True"
            reason = "WriteFailed" if message else "Writable"
            text = (f"{message}; no vSphere writes until the journal can be written" if message
                    else "intents and outcomes are recorded before and after each write")
            c = self._journal_condition
            if c.status != status:
                c.last_transition_time = self._clock()
            c.status, c.reason, c.message = status, reason, text

    @property
    def journal_error(self) -> str | None:
        with self._lock:
            return self._journal_error

    @property
    def first_pass_done(self) -> bool:
        with self._lock:
            return self._first_pass_done

    def mark_specs_loaded(self) -> None:
        """The first load of the spec paths finished (invalid documents included: they are reported, not fatal)."""
        with self._lock:
            self._specs_loaded = True

    def set_loops_running(self, running: bool) -> None:
        """Whether every vCenter loop of this process (possibly none) is running."""
        with self._lock:
            self._loops_running = running

    def _readiness_conditions(self) -> list[tuple[bool, str]]:
        """(holds, reason if not) of each readiness condition, in the order they are reported."""
        return [
            (self._specs_loaded, "specs not loaded yet"),
            (self._loops_running, "vCenter loops not running"),
            (not self._journal_error, f"journal cannot be written: {self._journal_error}"),
        ]

    def readiness(self) -> tuple[bool, str]:
        """(ready, reason): started, specs loaded, the vCenter loops running and the journal writable.

        Not a condition: vCenters being reachable or converged (that is in `/status` and the metrics), so a
        vCenter outage does not fail rollouts, and a shard that owns no vCenter is ready."""
        with self._lock:
            for holds, reason in self._readiness_conditions():
                if not holds:
                    return False, reason
            return True, "ok"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able snapshot."""
        with self._lock:
            ready, reason = self.readiness()
            return copy.deepcopy(
                {
                    "ready": ready,
                    "reason": reason,
                    "firstPassDone": self._first_pass_done,
                    "specsLoaded": self._specs_loaded,
                    "specRevision": self._spec_revision,
                    "startedAt": _iso(self._started),
                    "conditions": [self._journal_condition.to_dict()],
                    "vcenters": [self._vcenters[n].to_dict() for n in sorted(self._vcenters)],
                    "policies": [
                        self._policies[k].to_dict() for k in sorted(self._policies, key=lambda k: (k[1], k[0]))
                    ],
                }
            )


class Beater(Protocol):
    """What a loop needs of its heartbeat: `beat()` each turn (a `Heartbeat`, or a `liveness.NamedBeat`)."""

    def beat(self) -> None:
        ...


class Heartbeat:
    """The loop calls `beat()` each turn; `alive()` (the `/healthz` liveness) is True while the last beat is recent."""

    def __init__(self, max_age: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._clock = clock
        self._last = clock()

    def beat(self) -> None:
        self._last = self._clock()

    def age(self) -> float:
        return self._clock() - self._last

    def alive(self) -> bool:
        return self.age() <= self.max_age
