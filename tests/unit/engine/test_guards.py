"""The guard pass (reconciler.engine.guards): effective end state, refusal to a fixpoint, refusals at apply time."""

from typing import Any, ClassVar

from reconciler import controllers as registry
from reconciler.controllers.base import Controller
from reconciler.controllers.contract import ConnectionFacts, ObjectState, Skip
from reconciler.controllers.host_lockdown import HostLockdown
from reconciler.engine import guards
from reconciler.engine.planner import PlannedObject
from reconciler.engine.types import Change, DesiredValue, Outcome
from reconciler.events.model import ObjectRef

REF = ObjectRef("HostSystem", "host-1", "esx-01", "lab")
DIRECT = ConnectionFacts("lab", False, "root", "192.168.10.7")
MODE, USERS = ("lockdown", "mode"), ("lockdown", "exceptionUsers")


def dv(value: Any, enforce: bool = True) -> DesiredValue:
    return DesiredValue(value, "p", "p.yaml:3", enforce)


def change(path, current, desired, controller="lockdown", reason=None) -> Change:
    return Change(REF, controller, path, current, desired, reason=reason)


def test_effective_values_drop_held_back_paths_only():
    desired = {MODE: dv("normal"), USERS: dv(["root"]), ("lockdown", "other"): dv(1)}
    for reason in (Skip.WAIVED, Skip.AUDIT, Skip.FLAPPING, Skip.GUARD, Skip.UNSUPPORTED):
        changes = [change(MODE, "disabled", "normal"), change(USERS, [], ["root"], reason=reason)]
        assert guards.effective_values(desired, changes) == {MODE: "normal", ("lockdown", "other"): 1}, reason
    assert guards.effective_values(desired, [change(MODE, "disabled", "normal")]) == \
        {MODE: "normal", USERS: ["root"], ("lockdown", "other"): 1}, "a path without a change is already in effect"


def locked_po(mode: str, users: list[str], desired: dict, changes: list[Change]) -> PlannedObject:
    state = ObjectState(REF, {"config.lockdownMode": mode}, extras={"lockdown": {"exceptions": users}})
    return PlannedObject(state, {"lockdown": desired}, changes)


def test_lockdown_judged_against_held_back_exception_users():
    desired = {MODE: dv("normal"), USERS: dv(["root"])}
    both = [change(MODE, "disabled", "normal"), change(USERS, [], ["root"])]
    po = locked_po("lockdownDisabled", [], desired, list(both))
    assert guards.guard_object(po, DIRECT) == [] and all(c.actionable for c in po.changes)
    for reason in (Skip.WAIVED, Skip.AUDIT, Skip.FLAPPING):
        po = locked_po("lockdownDisabled", [], desired, [both[0], both[1].with_(reason=reason)])
        (refused,) = guards.guard_object(po, DIRECT)
        assert refused.path == MODE and refused.reason is Skip.GUARD and "'root'" in refused.message


def test_a_change_dropped_from_the_plan_is_not_in_effect():
    """A --target filter or a saved plan may drop a change instead of marking it: the path still differs on the
    host, so its desired value is not in effect."""
    desired = {MODE: dv("normal"), USERS: dv(["root"])}
    po = locked_po("lockdownDisabled", [], desired, [change(MODE, "disabled", "normal")])
    (refused,) = guards.guard_object(po, DIRECT)
    assert refused.path == MODE
    assert guards.effective_values(desired, [], {(USERS, "")}) == {MODE: "normal"}


def test_refusing_one_change_makes_the_other_unsafe():
    """Leaving lockdown and removing vsr's exception is safe, unless the mode change is held back: then the
    exception users change alone would lock vsr out."""
    desired = {MODE: dv("disabled"), USERS: dv([])}
    both = [change(MODE, "normal", "disabled"), change(USERS, ["root"], [])]
    po = locked_po("lockdownNormal", ["root"], desired, list(both))
    assert guards.guard_object(po, DIRECT) == []
    po = locked_po("lockdownNormal", ["root"], desired, [both[0].with_(reason=Skip.FLAPPING), both[1]])
    (refused,) = guards.guard_object(po, DIRECT)
    assert refused.path == USERS and "the host stays in lockdown mode 'normal'" in refused.message


class Chain(Controller):
    """Path `a` is always refused; `b` is safe only while `a` is applied (a refusal that needs a second round)."""

    name: ClassVar[str] = "chain"
    spec_key = "chain"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ()

    def diff(self, desired, state):
        return []

    def guard(self, diff, desired, state, facts):
        if diff.path == ("chain", "a"):
            return "refusing a"
        if diff.path == ("chain", "b") and ("chain", "a") not in desired:
            return "refusing b: a is not applied"
        if diff.path == ("chain", "boom"):
            raise ValueError("cannot parse 'x'")
        return None

    def apply(self, conn, state, diffs, desired):
        raise AssertionError("not called")


def test_fixpoint_and_failing_guard(monkeypatch):
    monkeypatch.setattr(registry, "ALL", (Chain(),))
    paths = [("chain", "a"), ("chain", "b"), ("chain", "boom"), ("chain", "c")]
    po = PlannedObject(ObjectState(REF, {}), {"chain": {p: dv(1) for p in paths}},
                       [change(p, 0, 1, controller="chain") for p in paths])
    refused = guards.guard_object(po, DIRECT, Outcome.SKIPPED)
    assert {c.path[1]: c.message for c in refused} == {
        "a": "refusing a", "b": "refusing b: a is not applied",
        "boom": "refusing: the lock-out guard of chain could not judge this change (cannot parse 'x')"}
    assert [c.path[1] for c in po.changes if c.actionable] == ["c"]
    assert all(c.outcome is Outcome.SKIPPED for c in refused)
    assert guards.guard_object(po, DIRECT) == [], "a second pass finds nothing new"


def test_guard_pass_leaves_other_reasons_alone():
    desired = {MODE: dv("normal", enforce=False)}
    po = locked_po("lockdownDisabled", [], desired, [change(MODE, "disabled", "normal", reason=Skip.AUDIT)])
    assert guards.guard_object(po, DIRECT) == [] and po.changes[0].reason is Skip.AUDIT


def test_lockdown_guard_directly():
    c = HostLockdown()
    s = ObjectState(REF, {"config.lockdownMode": "lockdownDisabled"})
    d = Change(REF, "lockdown", MODE, "disabled", "normal")
    from reconciler.controllers.contract import FieldDiff
    diff = FieldDiff(d.path, d.current, d.desired)
    assert "could not be read" in c.guard(diff, {}, s, DIRECT), "unknown exception users refuse"
    unknown_mode = ObjectState(REF, {}, extras={"lockdown": {"exceptions": ["root"]}})
    users = FieldDiff(USERS, ["root"], [])
    assert "lockdown mode is unknown" in c.guard(users, {}, unknown_mode, DIRECT)
