"""Details of the guard pass (reconciler.engine.guards) the mutation check showed untested: what a guard is
shown, controllers without a guard or unknown to the registry, the pass over a whole plan."""

from __future__ import annotations

from typing import ClassVar

from reconciler import controllers as registry
from reconciler.controllers.base import Controller
from reconciler.controllers.contract import ConnectionFacts, Impact, ObjectState, Skip
from reconciler.engine import guards
from reconciler.engine.planner import PlannedObject, VCenterPlan
from reconciler.engine.types import Change, DesiredValue, Plan
from reconciler.events.model import ObjectRef

REF = ObjectRef("HostSystem", "host-1", "esx-01", "lab")
DIRECT = ConnectionFacts("lab", False, "root", "192.168.10.7")


class NoGuard(Controller):
    name: ClassVar[str] = "noguard"
    spec_key = "noguard"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ()

    def diff(self, desired, state):
        return []

    def apply(self, conn, state, diffs, desired):
        raise AssertionError("not called")


class Recorder(NoGuard):
    """Refuses everything and remembers what it was shown."""

    name: ClassVar[str] = "recorder"
    spec_key = "recorder"
    seen: ClassVar[list] = []

    def guard(self, diff, desired, state, facts):
        Recorder.seen.append(diff)
        return f"refusing {diff.path[1]}"


def dv(value) -> DesiredValue:
    return DesiredValue(value, "p", "p.yaml:3")


def planned() -> PlannedObject:
    changes = [Change(REF, "unknown", ("unknown", "x"), 0, 1),
               Change(REF, "noguard", ("noguard", "y"), 0, 1),
               Change(REF, "recorder", ("recorder", "z"), "old", "new", impact=Impact.DISRUPTIVE, subject="vmnic0")]
    desired = {"unknown": {("unknown", "x"): dv(1)}, "noguard": {("noguard", "y"): dv(1)},
               "recorder": {("recorder", "z"): dv("new")}}
    return PlannedObject(ObjectState(REF, {}), desired, changes)


def test_the_guard_sees_the_change_as_planned_and_others_are_skipped(monkeypatch):
    monkeypatch.setattr(registry, "ALL", (NoGuard(), Recorder()))
    Recorder.seen.clear()
    po = planned()
    (refused,) = guards.guard_object(po, DIRECT)
    assert (refused.controller, refused.reason, refused.message) == ("recorder", Skip.GUARD, "refusing z")
    (diff,) = Recorder.seen
    assert (diff.path, diff.current, diff.desired, diff.subject, diff.impact) == (
        ("recorder", "z"), "old", "new", "vmnic0", Impact.DISRUPTIVE)
    assert [c.actionable for c in po.changes] == [True, True, False], "no guard, unknown controller: untouched"


def test_guard_plan_guards_every_object_and_refreshes_the_plan(monkeypatch):
    monkeypatch.setattr(registry, "ALL", (NoGuard(), Recorder()))
    po = planned()
    vplan = VCenterPlan("lab", DIRECT, [po], Plan(changes=list(po.changes)))
    guards.guard_plan(vplan)
    assert [(c.controller, c.reason) for c in vplan.plan.changes] == [
        ("noguard", None), ("recorder", Skip.GUARD), ("unknown", None)]
