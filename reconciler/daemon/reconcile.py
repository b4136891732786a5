"""Reconciling one object, split from the loop as controller-runtime splits `Reconcile` from its manager.

`Reconciler.reconcile(conn, facts, moid, obj) -> Result`: plan from the watch cache (no vSphere call when the
object is converged) → when something is to change, verify with a fresh read and plan again → settle open
write-ahead intents → apply → record (journal, flaps, metrics, mirroring into vCenter). The `Result` says whether
it succeeded (else the work queue retries with backoff) and when to reconcile again (`requeue_after`: a polled
source falls due). The framework around it (connection, watch, cache, queue, workers) is `VCenterLoop`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from reconciler.controllers.contract import ConnectionFacts, Skip
from reconciler.engine import executor, guards, planner, recording, sources, writeahead
from reconciler.engine.policies import policies_for
from reconciler.engine.types import Change, Outcome, render_path
from reconciler.events import model as ev
from reconciler.events.journal import JournalError
from reconciler.events.vcenter import VCenterMirror
from reconciler.vsphere import inventory
from reconciler.vsphere.connection import Connection

if TYPE_CHECKING:
    from reconciler.daemon.vcenter_loop import VCenterLoop

log = structlog.get_logger("vsr.daemon")


@dataclass(frozen=True)
class Result:
    """What one reconcile asks of the work queue: `ok` False retries with backoff; `requeue_after` seconds
    reconciles again then (polled sources due, pending work)."""

    ok: bool = True
    requeue_after: float | None = None


@dataclass(frozen=True)
class ObjectResult:
    changes: list[Change]
    policies: frozenset[str]  # the policies with desired fields on this object
    field_policy: Mapping[str, str]  # rendered field path -> the policy whose value it has


class Reconciler:
    """The reconcile function of one vCenter loop; its state (cache, journal, flaps, metrics) is the loop's."""

    def __init__(self, loop: VCenterLoop) -> None:
        self.loop = loop

    def _refetch(self, conn: Connection, moid: str, obj: inventory.ObservedObject) -> inventory.ObservedObject:
        """Read the object's watched properties now (one call) and refresh the cache with them."""
        loop = self.loop
        with loop.lock:
            watched_before = loop.versions.get(moid, 0)
        fetched = inventory.fetch_objects(conn, [obj.ref], list(obj.props))[moid]
        with loop.lock:
            if loop.versions.get(moid, 0) == watched_before:
                obj.props.update(fetched)
                loop.stale.discard(moid)
            # else the watch delivered changes during the read, possibly newer than it: the cache keeps them and
            # the object is queued again for them
        return obj

    def _plan(self, conn: Connection, facts: ConnectionFacts, moid: str, obj: inventory.ObservedObject,
              fresh: bool) -> planner.VCenterPlan:
        loop = self.loop
        snapshot = loop.store.current
        policies = policies_for(snapshot.specs, loop.name)
        observed = inventory.ObservedObject(obj.type, obj.moid, obj.name, dict(obj.props), ref=obj.ref)
        remediated = loop.remediated if obj.type == "VirtualMachine" else {}
        vplan = planner.plan_objects(conn, facts, policies, snapshot.specs.waivers, {moid: observed},
                                     loop.entities, dt.date.today(), remediated, loop.sources, fresh=fresh)
        self._mark_flapping(vplan)
        self._mark_known_unsupported(vplan)
        guards.guard_plan(vplan)  # held-back changes leave the old values in effect: judge the guards again
        return vplan

    def _mark_known_unsupported(self, vplan: planner.VCenterPlan) -> None:
        """An API this object's target lacks (plain vcsim, old ESXi) is tried once per session, not per resync."""
        loop = self.loop
        for po in vplan.objects:
            known = loop.unsupported.get(po.state.ref.moid, {})
            po.changes = [c.with_(reason=Skip.UNSUPPORTED, message=known[c.controller])
                          if c.actionable and c.controller in known else c for c in po.changes]
        vplan.collect_changes()

    def _remember_unsupported(self, vplan: planner.VCenterPlan) -> None:
        loop = self.loop
        rereads = {c.name for c in planner.active_controllers_for(vplan.objects) if any(s.reader for s in c.polled)}
        for change in vplan.plan.changes:
            # a guest that cannot be read now (Tools stopped, credentials) may be readable at the next poll
            if change.controller in rereads:
                continue
            if change.reason is Skip.UNSUPPORTED and change.outcome is Outcome.SKIPPED:
                loop.unsupported.setdefault(change.object.moid, {})[change.controller] = change.message

    def reconcile(self, conn: Connection, facts: ConnectionFacts, moid: str, obj: inventory.ObservedObject) -> Result:
        """Plan from the cache (no vSphere call when the object is converged); before changing anything, read
        the object again and re-plan, because the watch may still be delivering intermediate states of an
        earlier change."""
        loop = self.loop
        started = time.monotonic()
        with loop.lock:
            stale = moid in loop.stale
            fingerprint_before = loop.fingerprint(moid) if not stale else None
        if stale:
            obj = self._refetch(conn, moid, obj)
        vplan = self._plan(conn, facts, moid, obj, fresh=False)
        if any(c.actionable for po in vplan.objects for c in po.changes) and not stale:
            obj = self._refetch(conn, moid, obj)
            vplan = self._plan(conn, facts, moid, obj, fresh=True)
        events = recording.detection_events(vplan.plan.changes)
        writer = writeahead.JournalWriter(loop.journal, on_error=loop.journal_failed)
        journal_ok = self._settle_open_intents(moid, vplan)
        if journal_ok and any(c.actionable for po in vplan.objects for c in po.changes):
            with loop.lock:
                watched_before = loop.versions.get(moid, 0)
            executor.apply_plan(conn, vplan, concurrency=1, journal=writer)
            events += self._record_flaps(vplan)
            self._remember_unsupported(vplan)
            now = dt.datetime.now(dt.timezone.utc)
            for change in vplan.plan.changes:
                if change.outcome is Outcome.APPLIED and change.object.type == "VirtualMachine":
                    loop.remediated[(change.object.moid, change.path)] = now
                if change.outcome is Outcome.UNKNOWN:
                    loop.unverified.add(change.object.moid)
            with loop.lock:
                # the read-back is the newest state we know, unless the watch delivered changes meanwhile: those
                # may be newer (an out-of-band change right after the fix), and the object is queued again for them
                if loop.versions.get(moid, 0) == watched_before:
                    for po in vplan.objects:
                        obj.props.update({k: v for k, v in po.state.props.items() if k in obj.props})
        try:
            writer.record(events)
        except JournalError:
            pass  # counted and shown by journal_failed; the object is retried
        if writer.error is None and writer.recorded:
            loop.journal_ok_again()
        with loop.lock:
            clean = not vplan.plan.problems and writer.error is None and journal_ok and not any(
                c.actionable or c.outcome in (Outcome.FAILED, Outcome.NOT_EFFECTIVE, Outcome.UNKNOWN)
                or c.reason in (Skip.FLAPPING, Skip.PENDING_POWER_CYCLE, Skip.PENDING_REBOOT) for c in vplan.plan.changes)
            if clean and fingerprint_before is not None:
                loop.clean[moid] = fingerprint_before
            else:
                loop.clean.pop(moid, None)
            owners = {".".join(path): d.policy for po in vplan.objects for fields in po.desired.values()
                      for path, d in fields.items()}
            loop.results[moid] = ObjectResult(list(vplan.plan.changes), frozenset(owners.values()), owners)
        if writer.recorded:
            for event in writer.recorded:
                loop.metrics.event(event.type, event.reason)
                if event.reason != ev.REMEDIATION_STARTED:
                    log_event(event)
            if loop.options.mirror_events:
                mirror = VCenterMirror(conn)
                for event in writer.recorded:
                    if event.object.moid == moid and event.reason != ev.REMEDIATION_STARTED:
                        mirror.post(event, obj.ref)  # best effort: the journal is the record
        for controller in {c.controller for c in vplan.plan.changes} or {"none"}:
            failed = any(c.controller == controller and c.outcome is Outcome.FAILED for c in vplan.plan.changes)
            loop.metrics.observe_reconcile(controller, "error" if failed else "success", time.monotonic() - started)
        return Result(ok=not vplan.plan.problems and writer.error is None and journal_ok,
                      requeue_after=self._requeue_after(moid, vplan))

    def _requeue_after(self, moid: str, vplan: planner.VCenterPlan) -> float | None:
        """Seconds until the object's next polled source is due (spread over the source's interval), else None."""
        polled = [s for c in planner.active_controllers_for(vplan.objects) for s in c.polled]
        due = self.loop.sources.next_due(moid, polled) if polled else None
        return None if due is None else max(0.0, (due - sources.now_utc()).total_seconds())

    def _settle_open_intents(self, moid: str, vplan: planner.VCenterPlan) -> bool:
        """Verify the open intents of `moid` (left by a crash or an unknown outcome) against the fresh plan and
        close them. False when the journal cannot be used (then nothing is written for the object)."""
        loop = self.loop
        if moid not in loop.unverified:
            return True
        try:
            intents = loop.journal.intents(vcenter=loop.name, object=moid)
            verdicts = writeahead.recover(loop.journal, vplan, intents)
        except JournalError as exc:
            loop.journal_failed(str(exc))
            return False
        for verdict in verdicts:
            loop.metrics.event(verdict.event.type, verdict.event.reason)
        if verdicts:
            log.info("settled open intents", vcenter=loop.name, object=moid, summary=writeahead.summary(verdicts))
        loop.unverified.discard(moid)
        return True

    def _mark_flapping(self, vplan: planner.VCenterPlan) -> None:
        loop = self.loop
        for po in vplan.objects:
            po.changes = [c.with_(reason=Skip.FLAPPING,
                                  message="remediated again and again: no longer re-applied (DriftFlapping); "
                                          "find what reverts it, then restart or edit the policy")
                          if c.actionable and loop.flaps.is_flapping(c.object.moid, ".".join(c.path)) else c
                          for c in po.changes]
        vplan.collect_changes()

    def _record_flaps(self, vplan: planner.VCenterPlan) -> list[ev.Event]:
        """Count remediations per field; a field that trips the detector is marked flapping from now on."""
        loop = self.loop
        out = []
        for i, change in enumerate(vplan.plan.changes):
            if change.outcome is Outcome.APPLIED and loop.flaps.record(change.object.moid, ".".join(change.path)):
                vplan.plan.changes[i] = change.with_(reason=Skip.FLAPPING)
                out.append(ev.Event(type=ev.WARNING, reason=ev.DRIFT_FLAPPING, object=change.object,
                                    path=render_path(change.path), policy=change.policy or None, source=change.source or None,
                                    message=f"{'.'.join(change.path)} was remediated {loop.options.flap_threshold} "
                                            f"times within {loop.options.flap_window:.0f} s; something reverts it; "
                                            "vsr stops re-applying it"))
        return out


def log_event(event: ev.Event) -> None:
    """One log line per drift, fix, refusal or failure: what the daemon says at its default level (info)."""
    fields = {"vcenter": event.object.vcenter or None, "object": f"{event.object.type}/{event.object.name}",
              "field": event.path, "current": event.current, "desired": event.desired, "policy": event.policy,
              "source": event.source, "detail": event.message}
    emit = log.warning if event.type == ev.WARNING else log.info
    emit(event.reason, **{k: v for k, v in fields.items() if v is not None})
