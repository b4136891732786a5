"""Write-ahead recording of vSphere writes: an intent is durable in the journal before each write, its outcome
after it; open intents (a crash between the two) are settled by verifying the live value on the next pass.

The executor sees only the small `WriteJournal` protocol; `JournalWriter` implements it over the SQLite journal.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.engine import recording
from reconciler.engine.planner import VCenterPlan
from reconciler.engine.types import Change, Outcome, render_path
from reconciler.events import model as ev
from reconciler.events.journal import Intent, Journal, JournalError, new_intent_id

# outcomes that settle an intent; `unknown` leaves it open for the next pass to verify
CLOSING = (Outcome.APPLIED, Outcome.NOT_EFFECTIVE, Outcome.FAILED, Outcome.SKIPPED)

Key = tuple[str, str, tuple[str, ...], str]


class WriteJournal(Protocol):
    """What the executor needs: `intent` before a vSphere write (raises when it cannot be recorded; then nothing
    is written), `outcome` once the object's changes are settled, `record` for other events (rolling maintenance
    steps)."""

    def intent(self, changes: Sequence[Change]) -> None: ...

    def outcome(self, changes: Sequence[Change]) -> None: ...

    def record(self, events: Sequence[ev.Event]) -> None: ...


class NoJournal:
    """Records nothing (tests of the executor alone)."""

    def intent(self, changes: Sequence[Change]) -> None:
        pass

    def outcome(self, changes: Sequence[Change]) -> None:
        pass

    def record(self, events: Sequence[ev.Event]) -> None:
        pass


def _key(change: Change) -> Key:
    return (change.object.moid, change.controller, change.path, change.subject)


@dataclass
class JournalWriter:
    """`WriteJournal` over a `Journal`. Thread-safe (the executor applies objects concurrently).

    `recorded` collects every event written (the daemon counts and mirrors them); `error` is the last journal
    failure, `None` while the journal works."""

    journal: Journal
    on_error: Callable[[str], None] | None = None
    recorded: list[ev.Event] = field(default_factory=list)
    error: str | None = None
    _open: dict[Key, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def intent(self, changes: Sequence[Change]) -> None:
        with self._lock:
            new = [c for c in changes if _key(c) not in self._open]
        if not new:
            return
        items = [(intent_event(c, new_intent_id()), c.subject) for c in new]
        self._write(lambda: self.journal.open_intents(items))
        with self._lock:
            for change, (event, _) in zip(new, items):
                self._open[_key(change)] = str(event.intent)
            self.recorded.extend(e for e, _ in items)

    def outcome(self, changes: Sequence[Change]) -> None:
        events: list[ev.Event] = []
        close: dict[str, str] = {}
        with self._lock:
            for change in changes:
                intent_id = self._open.get(_key(change))
                for event in _outcome_events(change):
                    events.append(_with_intent(event, intent_id))
                if intent_id is not None and change.outcome in CLOSING:
                    close[intent_id] = change.outcome.value
        self._write(lambda: self.journal.record_outcomes(events, close))
        with self._lock:
            for change in changes:
                if change.outcome in CLOSING:
                    self._open.pop(_key(change), None)
            self.recorded.extend(events)

    def record(self, events: Sequence[ev.Event]) -> None:
        """Other events of the pass (detection), with the same error bookkeeping."""
        if events:
            self._write(lambda: self.journal.record_many(events))
            with self._lock:
                self.recorded.extend(events)

    def _write(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except JournalError as exc:
            self.error = str(exc)
            if self.on_error is not None:
                self.on_error(self.error)
            raise


def intent_event(change: Change, intent_id: str) -> ev.Event:
    where = f" on {change.subject}" if change.subject else ""
    return ev.Event(type=ev.NORMAL, reason=ev.REMEDIATION_STARTED, object=change.object, path=render_path(change.path),
                    message=f"intent {intent_id}: {render_path(change.path)}{where}: {recording.short_value(change.current)}"
                            f" -> {recording.short_value(change.desired)}",
                    policy=change.policy or None, source=change.source or None, current=change.current,
                    desired=change.desired, intent=intent_id)


def _outcome_events(change: Change) -> list[ev.Event]:
    if change.outcome is Outcome.UNKNOWN:
        return [ev.Event(type=ev.WARNING, reason=ev.REMEDIATION_UNVERIFIED, object=change.object, path=render_path(change.path),
                         message=f"{recording.describe(change)}: outcome unknown: {change.error}",
                         policy=change.policy or None, source=change.source or None, current=change.current,
                         desired=change.desired)]
    return recording.outcome_events([change])


def _with_intent(event: ev.Event, intent_id: str | None) -> ev.Event:
    if intent_id is None:
        return event
    return ev.Event(type=event.type, reason=event.reason, object=event.object, message=event.message,
                    path=event.path, policy=event.policy, source=event.source, current=event.current,
                    desired=event.desired, intent=intent_id)


# -- recovery ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    intent: Intent
    event: ev.Event
    outcome: Outcome


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, default=str, sort_keys=True) == json.dumps(b, default=str, sort_keys=True)


def verify(intents: Iterable[Intent], vplan: VCenterPlan) -> list[Verdict]:
    """Settle open intents against a fresh plan (the planner's diff of the live state): `applied` when the live
    value is the intended one, else `failed` (interrupted, not effective); `unknown` when no policy manages the
    field any more. Intents of objects not in `vplan` are left open."""
    changes = {(c.object.moid, ".".join(c.path), c.subject): c for c in vplan.plan.changes}
    desired = {(po.state.ref.moid, ".".join(path)): d.value for po in vplan.objects
               for fields in po.desired.values() for path, d in fields.items()}
    planned = {po.state.ref.moid for po in vplan.objects}
    out: list[Verdict] = []
    for intent in intents:
        moid, path, e = intent.object.moid, intent.path, intent.event
        where = f" on {intent.subject}" if intent.subject else ""
        intended = f"{path}{where}: {recording.short_value(e.current)} -> {recording.short_value(e.desired)}"
        if moid not in planned:
            continue
        change = changes.get((moid, path, intent.subject))
        if change is None and (moid, path) not in desired:  # no policy asks for the field any more
            event = ev.Event(type=ev.WARNING, reason=ev.REMEDIATION_UNVERIFIED, object=e.object, path=path,
                             message=f"{intended}: interrupted; cannot be verified: no policy manages the field now",
                             policy=e.policy, source=e.source, current=e.current, desired=e.desired,
                             intent=intent.id)
            out.append(Verdict(intent, event, Outcome.UNKNOWN))
            continue
        live = change.current if change is not None else desired[(moid, path)]
        if _same(live, e.desired):
            event = ev.Event(type=ev.NORMAL, reason=ev.DRIFT_REMEDIATED, object=e.object, path=path,
                             message=intended, policy=e.policy, source=e.source, current=e.current,
                             desired=e.desired, intent=intent.id)
            out.append(Verdict(intent, event, Outcome.APPLIED))
        else:
            event = ev.Event(type=ev.WARNING, reason=ev.REMEDIATION_FAILED, object=e.object, path=path,
                             message=f"{intended}: interrupted (the run ended before its outcome was recorded); "
                                     f"not effective: the live value is {recording.short_value(live)}",
                             policy=e.policy, source=e.source, current=live, desired=e.desired, intent=intent.id)
            out.append(Verdict(intent, event, Outcome.FAILED))
    return out


def recover(journal: Journal, vplan: VCenterPlan, intents: Sequence[Intent] | None = None) -> list[Verdict]:
    """Verify and close the open intents of `vplan`'s vCenter (or `intents`); returns what was recorded."""
    if intents is None:
        intents = journal.intents(vcenter=vplan.vcenter)
    verdicts = verify(intents, vplan)
    if verdicts:
        journal.record_outcomes([v.event for v in verdicts], {v.intent.id: v.outcome.value for v in verdicts})
    return verdicts


def summary(verdicts: Sequence[Verdict]) -> str:
    applied = sum(1 for v in verdicts if v.outcome is Outcome.APPLIED)
    return (f"settled {len(verdicts)} open intent(s) of an interrupted run: {applied} applied, "
            f"{len(verdicts) - applied} not effective (see `vsr events --reason RemediationFailed`)")
