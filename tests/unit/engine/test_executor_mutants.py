"""The executor's own logic (reconciler.engine.executor) against a small recording stand-in of the vSphere side:
which changes are written, in which order, the guard pass at apply time, the journal intent before each
controller's write and the outcome after, the read-back's verdict per field (applied / notEffective / failed /
unknown), the skip reasons of faults, batching and concurrency. The simulator suites (test_executor_outcomes.py)
prove the same round trip over SOAP; these run in milliseconds, so mutation testing can use them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
import structlog
from pyVmomi import vim, vmodl
from structlog.testing import capture_logs

from reconciler import controllers as registry
from reconciler.controllers.base import Controller
from reconciler.controllers.contract import (POWER_CYCLE, REMEDIATION, ConnectionFacts, FieldDiff, FieldPath, Impact,
                                             ObjectState, Placement, Skip)
from reconciler.engine import executor, rolling
from reconciler.engine.planner import PlannedObject, VCenterPlan
from reconciler.engine.types import Change, DesiredValue, ObjectProblem, Outcome, Plan
from reconciler.events.model import ObjectRef

FACTS = ConnectionFacts("lab", False, "root", "192.168.10.7")


class Server:
    """The vSphere side: properties per moid, every call in `log` (shared with the journal, to check order)."""

    def __init__(self) -> None:
        self.props: dict[str, dict[str, Any]] = {}
        self.log: list[tuple[Any, ...]] = []
        self.ignore: set[str] = set()            # property paths the server clamps to "clamped" when written
        self.fetch_fail_for: set[str] = set()     # a read-back of these moids fails
        self.diffs: list[tuple[Any, ...]] = []    # what each apply was given
        self.desired: list[dict[FieldPath, Any]] = []
        self.fail: dict[str, BaseException] = {}  # property path -> fault raised when written (after the write)
        self.fail_before: dict[str, BaseException] = {}  # property path -> fault raised instead of the write
        self.fetch_fault: BaseException | None = None
        self.fetches: list[tuple[list[str], list[str]]] = []  # (moids, paths) per RetrievePropertiesEx
        self.threads: list[str] = []
        self.barrier: threading.Barrier | None = None

    def write(self, moid: str, path: str, value: Any) -> None:
        self.threads.append(threading.current_thread().name)
        if self.barrier is not None:
            try:
                self.barrier.wait()
            except threading.BrokenBarrierError:
                self.log.append(("barrier broken",))
        if path in self.fail_before:
            raise self.fail_before[path]
        self.log.append(("write", moid, path))
        self.props[moid][path] = "clamped" if path in self.ignore else value
        if path in self.fail:
            raise self.fail[path]


class Collector:
    def __init__(self, server: Server) -> None:
        self.server = server

    def RetrievePropertiesEx(self, specSet: list[Any], options: Any) -> Any:  # noqa: N802, N803 - vSphere names
        (spec,) = specSet
        paths = list(spec.propSet[0].pathSet)
        moids = [o.obj._moId for o in spec.objectSet]
        self.server.fetches.append((moids, paths))
        self.server.log.append(("read", *moids))
        if self.server.fetch_fault is not None and (not self.server.fetch_fail_for
                                                    or self.server.fetch_fail_for & set(moids)):
            raise self.server.fetch_fault
        objects = [SimpleNamespace(obj=o.obj, missingSet=[],
                                   propSet=[SimpleNamespace(name=p, val=self.server.props[o.obj._moId].get(p))
                                            for p in paths])
                   for o in spec.objectSet]
        return SimpleNamespace(objects=objects, token=None)


class Conn:
    """What the executor needs of a reconciler.vsphere.protocol.Connection: `call`, `content.propertyCollector`."""

    name = "lab"
    is_vcenter = False
    username = "root"
    local_address = None
    settings: Any = None

    def __init__(self, server: Server) -> None:
        self.server = server
        self.content = SimpleNamespace(propertyCollector=Collector(server))

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    call_once = call

    def ping(self) -> bool:
        return True

    def relogin(self) -> None:
        raise AssertionError("no session is lost here")


def prop(path: FieldPath) -> str:
    return ".".join(path)


class Flags(Controller):
    """Desired (key, field) values are the host's `key.field` properties; one write per field, in diff order.
    A value "pending" reads back as written but pending a reboot."""

    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        out = []
        for path, value in desired.items():
            if path[0] != self.spec_key:  # policy parameters (remediation)
                continue
            now = state.props.get(prop(path))
            if now == "pending":
                out.append(FieldDiff(path, now, value, skip=Skip.PENDING_REBOOT, message="at the next reboot"))
            elif now != value:
                out.append(FieldDiff(path, now, value))
        return out

    def apply(self, conn: Any, state: ObjectState, diffs: list[FieldDiff], desired: Mapping[FieldPath, Any]) -> None:
        conn.server.desired.append(dict(desired))
        conn.server.diffs.extend((prop(d.path), d.current, d.desired, d.subject, d.impact, type(conn).__name__)
                                 for d in diffs)
        for d in diffs:
            conn.call(conn.server.write, state.ref.moid, prop(d.path), d.desired)


class Alpha(Flags):
    name: ClassVar[str] = "alpha"
    order = 1
    spec_key = "alpha"
    properties = ("alpha.x", "alpha.y")

    def guard(self, diff: FieldDiff, desired: Mapping[FieldPath, Any], state: ObjectState,
              facts: ConnectionFacts) -> str | None:
        return f"refusing: forbidden for {facts.username}" if diff.desired == "forbidden" else None


class Beta(Flags):
    name: ClassVar[str] = "beta"
    order = 2
    spec_key = "beta"
    properties = ("beta.z",)


class Gamma(Flags):
    """Has its own read (prefetch) at read-back time."""

    name: ClassVar[str] = "gamma"
    order = 3
    spec_key = "gamma"
    properties = ("gamma.w",)
    prefetch_fault: ClassVar[BaseException | None] = None
    prefetched: ClassVar[list[tuple[list[str], dict[str, Any]]]] = []

    observed: ClassVar[list[str]] = []
    callers: ClassVar[list[tuple[str, str]]] = []

    def observe(self, state: ObjectState) -> None:
        Gamma.observed.append(state.ref.moid)

    def prefetch(self, conn: Any, states: list[ObjectState], desired: Mapping[str, Mapping[FieldPath, Any]]) -> None:
        Gamma.prefetched.append(([s.ref.moid for s in states], dict(desired)))
        Gamma.callers.append((self.name, type(conn).__name__))
        if Gamma.prefetch_fault is not None:
            raise Gamma.prefetch_fault


class Journal:
    def __init__(self, server: Server, fail_intent: str | None = None, fail_outcome: bool = False) -> None:
        self.log = server.log
        self.fail_intent = fail_intent
        self.fail_outcome = fail_outcome

    def intent(self, changes: Any) -> None:
        if self.fail_intent is not None and any(c.controller == self.fail_intent for c in changes):
            raise OSError("disk full")
        self.log.append(("intent", *[prop(c.path) for c in changes]))

    def outcome(self, changes: Any) -> None:
        if self.fail_outcome:
            raise OSError("disk gone")
        self.log.append(("outcome", *[(prop(c.path), c.outcome.value) for c in changes if c.actionable]))

    def record(self, events: Any) -> None:
        self.log.append(("record", len(events)))


@pytest.fixture(autouse=True)
def controllers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "ALL", (Alpha(), Beta(), Gamma()))
    Gamma.prefetch_fault = None
    Gamma.prefetched = []
    Gamma.observed = []
    Gamma.callers = []


def dv(value: Any) -> DesiredValue:
    return DesiredValue(value, "p", "p.yaml:3")


def host(server: Server, moid: str, want: dict[str, Any], have: dict[str, Any] | None = None,
         reasons: dict[str, Skip] | None = None, extra: dict[str, Any] | None = None) -> PlannedObject:
    """A planned host: `want` maps "key.field" to the desired value; `have` the current ones (default: "old")."""
    have = {p: "old" for p in want} if have is None else have
    server.props[moid] = {**have, "runtime.connectionState": "connected"}
    ref = ObjectRef("HostSystem", moid, f"esx-{moid}", "lab")
    desired: dict[str, dict[FieldPath, DesiredValue]] = {}
    changes = []
    for p, value in want.items():
        path = tuple(p.split("."))
        desired.setdefault(path[0], {})[path] = dv(value)
        if have.get(p) != value:
            changes.append(Change(ref, path[0], path, have.get(p), value, reason=(reasons or {}).get(p)))
    state = ObjectState(ref, {**have, **(extra or {})}, mo=vim.HostSystem(moid))
    return PlannedObject(state, desired, changes)


def plan(*objects: PlannedObject) -> VCenterPlan:
    return VCenterPlan("lab", FACTS, list(objects), Plan())


def outcomes(po: PlannedObject) -> dict[str, tuple[str, str, str]]:
    return {prop(c.path): (c.outcome.value, c.error, c.message) for c in po.changes}


def run(server: Server, *objects: PlannedObject, journal: Journal | None = None, **kw: Any) -> VCenterPlan:
    return executor.apply_plan(Conn(server), plan(*objects), journal=journal or Journal(server), **kw)


def test_each_controller_writes_after_its_intent_then_one_read_back_then_the_outcomes():
    s = Server()
    a = host(s, "host-1", {"alpha.x": 1, "alpha.y": 2, "beta.z": 3})
    done: list[str] = []
    vplan = run(s, a, concurrency=1, on_object_done=lambda po: done.append(po.state.ref.moid))
    assert s.log == [("intent", "alpha.x", "alpha.y"), ("write", "host-1", "alpha.x"), ("write", "host-1", "alpha.y"),
                     ("intent", "beta.z"), ("write", "host-1", "beta.z"),
                     ("read", "host-1"),
                     ("outcome", ("alpha.x", "applied"), ("alpha.y", "applied"), ("beta.z", "applied"))]
    assert s.fetches == [(["host-1"], ["alpha.x", "alpha.y", "beta.z", "runtime.connectionState"])]
    assert s.diffs == [("alpha.x", "old", 1, "", Impact.NONE, "Conn"), ("alpha.y", "old", 2, "", Impact.NONE, "Conn"),
                       ("beta.z", "old", 3, "", Impact.NONE, "Conn")]
    assert s.desired == [{("alpha", "x"): 1, ("alpha", "y"): 2}, {("beta", "z"): 3}]
    assert outcomes(a) == {p: ("applied", "", "") for p in ("alpha.x", "alpha.y", "beta.z")}
    assert done == ["host-1"] and vplan.plan.problems == [] and vplan.plan.notes == []
    assert [c.outcome for c in vplan.plan.changes] == [Outcome.APPLIED] * 3  # collected back into the plan
    assert a.state.props["alpha.x"] == 1 and a.state.props["runtime.connectionState"] == "connected"


def test_only_actionable_changes_are_written_and_objects_without_any_are_left_alone():
    s = Server()
    a = host(s, "host-1", {"alpha.x": 1, "beta.z": 3}, reasons={"alpha.x": Skip.AUDIT})
    b = host(s, "host-2", {"alpha.x": 1}, reasons={"alpha.x": Skip.WAIVED})
    done: list[str] = []
    run(s, a, b, on_object_done=lambda po: done.append(po.state.ref.moid))
    assert [e for e in s.log if e[0] == "write"] == [("write", "host-1", "beta.z")]
    assert s.fetches == [(["host-1"], ["beta.z", "runtime.connectionState"])]  # only the touched controller's paths
    assert outcomes(a)["alpha.x"][0] == "planned" and outcomes(a)["beta.z"][0] == "applied"
    assert outcomes(b) == {"alpha.x": ("planned", "", "")} and done == ["host-1"]


def test_the_props_not_read_back_and_the_placement_are_kept():
    s = Server()
    a = host(s, "host-1", {"beta.z": 3}, extra={"config.name": "kept"})
    a.state.placement, a.state.template = Placement("dc", "c1", None), True
    run(s, a)
    assert a.state.props["config.name"] == "kept" and a.state.props["beta.z"] == 3
    assert a.state.mo is not None and a.state.mo._moId == "host-1"
    assert a.state.placement == Placement("dc", "c1", None) and a.state.template is True


def test_the_guard_runs_again_at_apply_time_and_a_refused_change_is_skipped_not_written():
    s = Server()
    a = host(s, "host-1", {"alpha.x": "forbidden", "alpha.y": 2})
    vplan = run(s, a)
    assert [e for e in s.log if e[0] == "write"] == [("write", "host-1", "alpha.y")]
    refused = next(c for c in a.changes if c.path == ("alpha", "x"))
    assert (refused.reason, refused.outcome, refused.message) == (Skip.GUARD, Outcome.SKIPPED, "refusing: forbidden for root")
    assert outcomes(a)["alpha.y"][0] == "applied" and vplan.plan.problems == []


def test_a_write_without_effect_is_not_effective_with_the_value_read_back():
    s = Server()
    s.ignore = {"alpha.x"}
    a = host(s, "host-1", {"alpha.x": 1, "alpha.y": 2})
    vplan = run(s, a)
    (x,) = [c for c in a.changes if c.path == ("alpha", "x")]
    assert (x.outcome, x.current, x.error) == (Outcome.NOT_EFFECTIVE, "clamped", "")
    assert x.message == "applied but not effective: the read-back still differs"
    assert outcomes(a)["alpha.y"] == ("applied", "", "") and vplan.plan.problems == []


def test_a_field_pending_a_reboot_after_its_write_is_applied_with_the_controllers_message():
    s = Server()
    s.fail = {"beta.z": RuntimeError("lost the answer")}
    a = host(s, "host-1", {"beta.z": "pending"}, have={"beta.z": "old"})
    vplan = run(s, a)
    assert outcomes(a) == {"beta.z": ("applied", "", "at the next reboot")} and vplan.plan.problems == []


def test_a_call_that_raised_fails_the_fields_still_differing_and_the_next_controller_still_writes():
    s = Server()
    s.fail_before = {"alpha.y": vim.fault.InvalidName(msg="bad name")}
    a = host(s, "host-1", {"alpha.x": 1, "alpha.y": 2, "beta.z": 3})
    vplan = run(s, a)
    assert outcomes(a) == {"alpha.x": ("applied", "", ""), "alpha.y": ("failed", "InvalidName: bad name", ""),
                           "beta.z": ("applied", "", "")}
    y = next(c for c in a.changes if c.path == ("alpha", "y"))
    assert y.current == "old"
    assert vplan.plan.problems == [ObjectProblem(a.state.ref, "InvalidName: bad name", "alpha")]
    assert ("write", "host-1", "beta.z") in s.log


def test_a_call_that_raised_after_every_field_took_effect_is_applied_without_a_problem():
    s = Server()
    s.fail = {"alpha.y": RuntimeError("timed out reading the answer")}
    s.ignore = {"beta.z"}
    a = host(s, "host-1", {"alpha.x": 1, "alpha.y": 2, "beta.z": 3, "gamma.w": 4}, reasons={"gamma.w": Skip.AUDIT})
    vplan = run(s, a)
    assert outcomes(a) == {"alpha.x": ("applied", "", ""), "alpha.y": ("applied", "", ""),
                           "beta.z": ("notEffective", "", "applied but not effective: the read-back still differs"),
                           "gamma.w": ("planned", "", "")}
    assert vplan.plan.problems == []


def test_a_read_only_host_is_audit_only_and_nothing_more_is_written():
    s = Server()
    s.fail_before = {"alpha.x": vim.fault.RestrictedVersion()}
    a = host(s, "host-1", {"alpha.x": 1, "beta.z": 3})
    vplan = run(s, a)
    assert [e[0] for e in s.log] == ["intent", "outcome"]  # no beta write, no read-back
    assert {(c.reason, c.outcome, c.message) for c in a.changes} == {
        (Skip.UNSUPPORTED, Outcome.SKIPPED, executor.RESTRICTED_MESSAGE)}
    assert vplan.plan.notes == [f"HostSystem esx-host-1: audit only: {executor.RESTRICTED_MESSAGE}"]
    assert vplan.plan.problems == []


def test_an_api_the_target_lacks_skips_that_controller_and_is_read_back():
    s = Server()
    s.fail_before = {"alpha.x": vmodl.fault.NotSupported()}
    a = host(s, "host-1", {"alpha.x": 1, "beta.z": 3})
    vplan = run(s, a)
    x = next(c for c in a.changes if c.controller == "alpha")
    assert (x.reason, x.outcome) == (Skip.UNSUPPORTED, Outcome.SKIPPED)
    assert x.message == "this target does not offer the API for alpha (NotSupported)"
    assert outcomes(a)["beta.z"] == ("applied", "", "") and vplan.plan.problems == []
    assert s.fetches[0][1] == ["alpha.x", "alpha.y", "beta.z", "runtime.connectionState"]  # alpha read back too


def test_an_unsupported_api_alone_is_still_read_back():
    s = Server()
    s.fail_before = {"beta.z": vmodl.fault.MethodNotFound()}
    a = host(s, "host-1", {"beta.z": 3})
    run(s, a)
    assert [e[0] for e in s.log] == ["intent", "read", "outcome"]


def test_no_intent_no_write_the_rest_of_the_object_is_not_written():
    s = Server()
    a = host(s, "host-1", {"alpha.x": 1, "beta.z": 3, "gamma.w": 4})
    vplan = run(s, a, journal=Journal(s, fail_intent="beta"))
    assert [e for e in s.log if e[0] == "write"] == [("write", "host-1", "alpha.x")]
    assert outcomes(a) == {"alpha.x": ("applied", "", ""), "beta.z": ("skipped", "", executor.NOT_WRITTEN),
                           "gamma.w": ("skipped", "", executor.NOT_WRITTEN)}
    assert vplan.plan.problems == [ObjectProblem(
        a.state.ref, "journal: disk full; nothing written to vSphere for this object", "journal")]


def test_no_intent_for_the_first_controller_means_no_write_and_no_read_back():
    s = Server()
    a = host(s, "host-1", {"alpha.x": 1, "beta.z": 3})
    b = host(s, "host-2", {"beta.z": 3})
    vplan = run(s, a, b, journal=Journal(s, fail_intent="alpha"), concurrency=1)
    assert [e for e in s.log if e[0] in ("write", "read")] == [("write", "host-2", "beta.z"), ("read", "host-2")]
    assert {c.outcome for c in a.changes} == {Outcome.SKIPPED} and outcomes(b)["beta.z"][0] == "applied"
    assert [p.object.moid for p in vplan.plan.problems] == ["host-1"]


def test_an_outcome_the_journal_cannot_record_is_a_problem_of_that_object():
    s = Server()
    a = host(s, "host-1", {"beta.z": 3})
    vplan = run(s, a, journal=Journal(s, fail_outcome=True))
    assert outcomes(a)["beta.z"][0] == "applied"
    assert vplan.plan.problems == [ObjectProblem(
        a.state.ref, "journal: disk gone; the outcome is verified on the next pass", "journal")]


def test_a_failed_read_back_leaves_every_attempted_field_unknown():
    s = Server()
    s.fetch_fault = vim.fault.NotAuthenticated(msg="session gone")
    s.fail_before = {"beta.z": RuntimeError("boom")}
    a = host(s, "host-1", {"alpha.x": 1, "beta.z": 3, "gamma.w": 4}, reasons={"gamma.w": Skip.AUDIT})
    vplan = run(s, a)
    message = "read-back failed: NotAuthenticated: session gone"
    assert outcomes(a) == {"alpha.x": ("unknown", f"{message}; verified on the next pass", ""),
                           "beta.z": ("unknown", f"RuntimeError: boom; {message}", ""),
                           "gamma.w": ("planned", "", "")}
    assert vplan.plan.problems == [ObjectProblem(a.state.ref, "RuntimeError: boom", "beta"),
                                   ObjectProblem(a.state.ref, message)]


def test_a_skipped_field_stays_skipped_through_a_failed_read_back():
    s = Server()
    s.fetch_fault = RuntimeError("gone")
    a = host(s, "host-1", {"alpha.x": "forbidden", "alpha.y": 2})
    run(s, a)
    assert outcomes(a)["alpha.x"] == ("skipped", "", "refusing: forbidden for root")
    assert outcomes(a)["alpha.y"][0] == "unknown"


def test_a_failed_controller_read_at_read_back_makes_only_that_object_unknown():
    s = Server()
    a = host(s, "host-1", {"gamma.w": 4})
    b = host(s, "host-2", {"beta.z": 3})
    Gamma.prefetch_fault = RuntimeError("key provider down")
    vplan = run(s, a, b)
    assert outcomes(a)["gamma.w"][0] == "unknown" and outcomes(b)["beta.z"][0] == "applied"
    assert Gamma.prefetched == [(["host-1"], {"host-1": {("gamma", "w"): 4}})]
    assert vplan.plan.problems == [ObjectProblem(a.state.ref, "read-back failed: RuntimeError: key provider down")]
    assert len(s.fetches) == 1 and sorted(s.fetches[0][0]) == ["host-1", "host-2"]  # one bulk read for both


def test_objects_are_read_back_in_batches(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(executor, "READ_BACK_BATCH", 2)
    s = Server()
    objects = [host(s, f"host-{i}", {"beta.z": i}) for i in range(3)]
    run(s, *objects, concurrency=1)
    assert [m for m, _ in s.fetches] == [["host-0", "host-1"], ["host-2"]]
    assert [e[0] for e in s.log] == ["intent", "write", "intent", "write", "read", "outcome", "outcome",
                                     "intent", "write", "read", "outcome"]
    assert all(outcomes(po)["beta.z"][0] == "applied" for po in objects)


def test_objects_are_written_concurrently_only_when_there_is_more_than_one_and_concurrency_allows():
    s = Server()
    run(s, host(s, "host-1", {"beta.z": 1}), host(s, "host-2", {"beta.z": 1}), concurrency=2)
    assert all(t.startswith("vsr-apply") for t in s.threads) and len(s.threads) == 2
    for concurrency, count in ((1, 2), (2, 1)):
        s = Server()
        run(s, *[host(s, f"host-{i}", {"beta.z": 1}) for i in range(count)], concurrency=concurrency)
        assert s.threads == [threading.current_thread().name] * count


class Interrupted(BaseException):
    pass


def test_a_fault_escaping_a_write_still_reports_the_object_done():
    s = Server()
    s.fail_before = {"beta.z": Interrupted()}  # not an Exception: the executor does not swallow it
    a = host(s, "host-1", {"beta.z": 3})
    done: list[str] = []
    with pytest.raises(Interrupted):
        run(s, a, concurrency=1, on_object_done=lambda po: done.append(po.state.ref.moid))
    assert done == ["host-1"]


def test_apply_object_guards_writes_reads_back_and_records_the_outcome():
    s = Server()
    a = host(s, "host-1", {"alpha.x": "forbidden", "alpha.y": 2})
    vplan = plan(a)
    journal = Journal(s)
    problems = executor.apply_object(Conn(s), vplan, a, {"alpha": Alpha()}, today=__import__("datetime").date.today(),
                                     journal=journal)
    assert problems == [] and outcomes(a)["alpha.x"] == ("skipped", "", "refusing: forbidden for root")
    assert s.log == [("intent", "alpha.y"), ("write", "host-1", "alpha.y"), ("read", "host-1"),
                     ("outcome", ("alpha.y", "applied"))]


def test_apply_object_reports_the_problem_of_a_call_that_failed():
    s = Server()
    s.fail_before = {"alpha.y": RuntimeError("boom")}
    a = host(s, "host-1", {"alpha.y": 2})
    problems = executor.apply_object(Conn(s), plan(a), a, {"alpha": Alpha()},
                                     today=__import__("datetime").date.today())
    assert problems == [ObjectProblem(a.state.ref, "RuntimeError: boom", "alpha")]


def vm(power: str, mode: str | None, impact: Impact, reason: Skip | None = None,
       kind: str = "VirtualMachine") -> PlannedObject:
    ref = ObjectRef(kind, "vm-1", "vm-1", "lab")
    desired = {("vm", "x"): dv(1)}
    if mode is not None:
        desired[POWER_CYCLE] = dv(mode)
    return PlannedObject(ObjectState(ref, {"runtime.powerState": power}), {"vmc": desired},
                         [Change(ref, "vmc", ("vm", "x"), 0, 1, impact=impact, reason=reason)])


@pytest.mark.parametrize("po,expected", [
    (vm("poweredOn", "Allowed", Impact.POWER_CYCLE), True),
    (vm("poweredOff", "Allowed", Impact.POWER_CYCLE), False),
    (vm("poweredOn", "IfPoweredOff", Impact.POWER_CYCLE), False),
    (vm("poweredOn", None, Impact.POWER_CYCLE), False),
    (vm("poweredOn", "Allowed", Impact.NONE), False),
    (vm("poweredOn", "Allowed", Impact.POWER_CYCLE, reason=Skip.AUDIT), False),
    (vm("poweredOn", "Allowed", Impact.POWER_CYCLE, kind="HostSystem"), False),
])
def test_a_power_cycle_is_needed_only_for_a_running_vm_allowed_to_cycle_with_actionable_cycling_changes(po, expected):
    assert executor.needs_power_cycle(po) is expected


WINDOWED = {"reboot": "Allowed", "maintenanceMode": "Allowed"}


def windowed(server: Server, moid: str) -> PlannedObject:
    """A host whose policy allows rolling maintenance, with a reboot-impact change (beta) and a plain one (alpha)."""
    po = host(server, moid, {"alpha.x": 1, "beta.z": 3})
    po.desired["beta"][REMEDIATION] = dv(WINDOWED)
    po.changes = [c.with_(impact=Impact.REBOOT) if c.controller == "beta" else c for c in po.changes]
    return po


def test_hosts_for_a_rolling_window_go_through_it_and_the_others_are_written_as_usual(monkeypatch):
    s = Server()
    w, plain_host = windowed(s, "host-1"), host(s, "host-2", {"beta.z": 3})
    seen: list[Any] = []

    def window(conn: Any, vplan: VCenterPlan, hosts: list[PlannedObject], win: rolling.Window) -> list[ObjectProblem]:
        seen.append([po.state.ref.moid for po in hosts])
        assert isinstance(conn, Conn) and vplan.objects[0] is hosts[0]
        s.fail_before = {"alpha.x": vim.fault.RestrictedVersion()}
        assert win.write(hosts[0]) == ([], [])  # the executor's own write step, with its plan and controllers
        assert vplan.plan.notes == [f"HostSystem esx-host-1: audit only: {executor.RESTRICTED_MESSAGE}"]
        return win.finish(hosts[0], [ObjectProblem(hosts[0].state.ref, "window stopped")])

    monkeypatch.setattr(rolling, "run", window)
    done: list[str] = []
    vplan = run(s, w, plain_host, rolling_windows=True, on_object_done=lambda po: done.append(po.state.ref.moid))
    assert seen == [["host-1"]] and [e for e in s.log if e[0] == "write"] == [("write", "host-2", "beta.z")]
    assert done == ["host-2", "host-1"] and vplan.plan.problems == [ObjectProblem(w.state.ref, "window stopped")]
    assert s.log[-2:] == [("intent", "alpha.x"), ("outcome",)]  # the window's write, then finish records the outcome


def test_without_rolling_windows_such_a_host_is_written_directly(monkeypatch):
    monkeypatch.setattr(rolling, "run", lambda *a: pytest.fail("no window without rolling_windows"))
    s = Server()
    w = windowed(s, "host-1")
    run(s, w)
    assert [e for e in s.log if e[0] == "write"] == [("write", "host-1", "alpha.x"), ("write", "host-1", "beta.z")]


def window_steps(server: Server, journal: Journal, finished: list[Any]) -> tuple[rolling.Window, VCenterPlan]:
    po = windowed(server, "host-1")
    vplan = plan(po)
    controllers = {"alpha": Alpha(), "beta": Beta()}
    today = __import__("datetime").date.today()
    return executor._window(Conn(server), vplan, controllers, journal, today,
                            lambda p, problems: finished.append((p, problems)) or problems), vplan


def test_a_windows_steps_are_the_executors_guard_write_and_read_back():
    s = Server()
    finished: list[Any] = []
    win, vplan = window_steps(s, Journal(s), finished)
    (po,) = vplan.objects
    po.changes.append(Change(po.state.ref, "alpha", ("alpha", "y"), "old", "forbidden"))
    po.desired["alpha"][("alpha", "y")] = dv("forbidden")
    win.guard(po)
    refused = po.changes[-1]
    assert (refused.reason, refused.outcome, refused.message) == (Skip.GUARD, Outcome.SKIPPED,
                                                                  "refusing: forbidden for root")
    assert win.remaining(po, {"alpha", "beta", "nope"}) == {(("alpha", "x"), ""), (("alpha", "y"), ""),
                                                           (("beta", "z"), "")}
    assert win.remaining(po, {"beta"}) == {(("beta", "z"), "")}
    problems, touched = win.write(po)
    assert problems == [] and [c.name for c in touched] == ["alpha", "beta"]
    assert win.read_back(po, touched) == []
    assert {prop(c.path): c.outcome for c in po.changes} == {
        "alpha.x": Outcome.APPLIED, "beta.z": Outcome.APPLIED, "alpha.y": Outcome.SKIPPED}
    assert [c.name for c in win.controllers_of({"beta", "gamma"})] == ["beta"]
    assert win.finish(po, []) == [] and finished == [(po, [])]


def test_a_windows_intent_and_events_go_to_the_journal():
    s = Server()
    win, vplan = window_steps(s, Journal(s, fail_intent="beta"), [])
    (po,) = vplan.objects
    alpha = [c for c in po.changes if c.controller == "alpha"]
    assert win.intent(po, alpha) is None and s.log == [("intent", "alpha.x")]
    problem = win.intent(po, po.changes)
    assert problem == ObjectProblem(po.state.ref, "journal: disk full; nothing written to vSphere for this object",
                                    "journal")
    win.record([object(), object()])
    assert s.log[-1] == ("record", 2)
    win.unwritten(po)
    assert {c.outcome for c in po.changes} == {Outcome.SKIPPED} and {c.message for c in po.changes} == {
        executor.NOT_WRITTEN}


def test_controllers_observe_and_prefetch_only_objects_read_back_well():
    s = Server()
    a, b = host(s, "host-1", {"gamma.w": 4}), host(s, "host-2", {"gamma.w": 5})
    run(s, a, b, concurrency=1)
    assert sorted(Gamma.observed) == ["host-1", "host-2"]
    assert Gamma.prefetched == [(["host-1", "host-2"], {"host-1": {("gamma", "w"): 4}, "host-2": {("gamma", "w"): 5}})]
    Gamma.observed, Gamma.prefetched = [], []
    s.fetch_fault = RuntimeError("gone")
    run(s, host(s, "host-3", {"gamma.w": 4}))
    assert Gamma.observed == [] and Gamma.prefetched == []


def test_what_the_operator_is_told_in_the_log():
    s = Server()
    s.fail_before = {"alpha.x": vim.fault.InvalidName(msg="bad"), "gamma.w": vim.fault.RestrictedVersion()}
    with capture_logs() as logs:
        run(s, host(s, "host-1", {"alpha.x": 1}), journal=Journal(s, fail_outcome=True))
        run(s, host(s, "host-2", {"beta.z": 1}), journal=Journal(s, fail_intent="beta"))
        run(s, host(s, "host-3", {"gamma.w": 1}))
    got = [{k: v for k, v in e.items() if k != "timestamp"} for e in logs]
    assert got == [
        {"event": "apply failed", "log_level": "warning", "object": "esx-host-1", "controller": "alpha",
         "error": "InvalidName: bad"},
        {"event": "cannot record the outcome", "log_level": "error", "object": "esx-host-1", "error": "disk gone"},
        {"event": "journal cannot record the intent; nothing written", "log_level": "error", "object": "esx-host-2",
         "error": "disk full"},
        {"event": "host is read-only for the API; audit only", "log_level": "warning", "object": "esx-host-3",
         "fault": "RestrictedVersion"}]


class Vmc(Flags):
    """A VM controller: `vm.cold` takes effect only while the VM is off (vSphere refuses it on a running VM)."""

    name: ClassVar[str] = "vmc"
    order = 4
    spec_key = "vm"
    managed_type = "VirtualMachine"
    policy_kind = "VMSecurityPolicy"
    properties = ("vm.cold", "vm.hot")
    policy_parameters = None

    def apply(self, conn: Any, state: ObjectState, diffs: list[FieldDiff], desired: Mapping[FieldPath, Any]) -> None:
        conn.server.log.append(("apply", str(state.props.get("runtime.powerState"))))
        conn.server.diffs.extend((prop(d.path), d.current, d.desired, d.subject, d.impact) for d in diffs)
        for d in diffs:
            if d.path == ("vm", "cold") and conn.server.props[state.ref.moid]["runtime.powerState"] == "poweredOn":
                raise vim.fault.InvalidPowerState(msg="the VM is on")
            conn.call(conn.server.write, state.ref.moid, prop(d.path), d.desired)


class Power:
    """Stands for reconciler.vsphere.power's guest shutdown and power-on (the simulator suites run the real ones)."""

    def __init__(self, server: Server, refuse: bool = False, fail_on: bool = False) -> None:
        self.server, self.refuse, self.fail_on = server, refuse, fail_on

    def shutdown_guest(self, conn: Any, vm: Any) -> None:
        self.server.log.append(("shutdown", vm._moId) if isinstance(conn, Conn) else ("shutdown without a connection",))
        if self.refuse:
            raise executor.power.PowerCycleError("guest shutdown refused (ToolsUnavailable)")
        self.server.props[vm._moId]["runtime.powerState"] = "poweredOff"

    def power_on(self, conn: Any, vm: Any) -> None:
        self.server.log.append(("power on", vm._moId) if isinstance(conn, Conn) else ("power on without a connection",))
        if self.fail_on:
            raise RuntimeError("no host can run it")
        self.server.props[vm._moId]["runtime.powerState"] = "poweredOn"


def cycled_vm(server: Server, monkeypatch: pytest.MonkeyPatch, **power: bool) -> PlannedObject:
    monkeypatch.setattr(registry, "ALL", (Alpha(), Beta(), Gamma(), Vmc()))
    p = Power(server, **power)
    monkeypatch.setattr(executor.power, "shutdown_guest", p.shutdown_guest)
    monkeypatch.setattr(executor.power, "power_on", p.power_on)
    ref = ObjectRef("VirtualMachine", "vm-1", "web-1", "lab")
    server.props["vm-1"] = {"vm.cold": "old", "vm.hot": "old", "runtime.powerState": "poweredOn",
                            "config.template": False}
    desired = {("vm", "cold"): dv(1), ("vm", "hot"): dv(2), POWER_CYCLE: dv("Allowed")}
    changes = [Change(ref, "vmc", ("vm", "cold"), "old", 1, impact=Impact.POWER_CYCLE),
               Change(ref, "vmc", ("vm", "hot"), "old", 2)]
    return PlannedObject(ObjectState(ref, {"vm.cold": "old", "vm.hot": "old", "runtime.powerState": "poweredOn"},
                                     mo=vim.VirtualMachine("vm-1")), {"vmc": desired}, changes)


def test_a_vm_is_shut_down_after_the_intent_written_while_off_read_back_alone_then_powered_on(monkeypatch):
    s = Server()
    v, h = cycled_vm(s, monkeypatch), host(s, "host-1", {"beta.z": 3})
    done: list[str] = []
    vplan = run(s, v, h, concurrency=1, on_object_done=lambda po: done.append(po.state.ref.moid))
    assert s.log[:8] == [("intent", "vm.cold"), ("shutdown", "vm-1"), ("intent", "vm.cold", "vm.hot"),
                         ("apply", "poweredOff"), ("write", "vm-1", "vm.cold"), ("write", "vm-1", "vm.hot"),
                         ("read", "vm-1"), ("power on", "vm-1")]
    assert s.log[8] == ("outcome", ("vm.cold", "applied"), ("vm.hot", "applied"))
    assert s.log[9:] == [("intent", "beta.z"), ("write", "host-1", "beta.z"), ("read", "host-1"),
                         ("outcome", ("beta.z", "applied"))]
    assert done == ["vm-1", "host-1"] and vplan.plan.problems == []
    assert [d[:5] for d in s.diffs[:2]] == [("vm.cold", "old", 1, "", Impact.POWER_CYCLE), ("vm.hot", "old", 2, "", Impact.NONE)]
    assert v.state.props["runtime.powerState"] == "poweredOff"  # as read back while off


def test_a_vm_that_cannot_shut_down_fails_its_cold_changes_and_still_gets_the_others(monkeypatch):
    s = Server()
    v = cycled_vm(s, monkeypatch, refuse=True)
    vplan = run(s, v)
    assert ("power on", "vm-1") not in s.log and ("write", "vm-1", "vm.cold") not in s.log
    assert s.log[:4] == [("intent", "vm.cold"), ("shutdown", "vm-1"), ("intent", "vm.cold", "vm.hot"),
                         ("apply", "poweredOn")]
    assert outcomes(v)["vm.cold"][:2] == ("failed", "InvalidPowerState: the VM is on")
    assert vplan.plan.problems == [ObjectProblem(v.state.ref, "guest shutdown refused (ToolsUnavailable)"),
                                   ObjectProblem(v.state.ref, "InvalidPowerState: the VM is on", "vmc")]


def test_a_refused_shutdown_marks_only_the_actionable_cold_changes_failed(monkeypatch):
    s = Server()
    v = cycled_vm(s, monkeypatch, refuse=True)
    v.changes.append(Change(v.state.ref, "vmc", ("vm", "other"), "old", 5, impact=Impact.POWER_CYCLE,
                            reason=Skip.AUDIT))
    seen: list[Any] = []
    monkeypatch.setattr(executor, "_apply_object", lambda conn, vplan, po, *a: seen.append(outcomes(po)) or [])
    problems = executor._apply_with_power(Conn(s), plan(v), v, {"vmc": Vmc()}, None, Journal(s))  # type: ignore[arg-type]
    assert seen == [{"vm.cold": ("failed", "guest shutdown refused (ToolsUnavailable)", ""),
                     "vm.hot": ("planned", "", ""), "vm.other": ("planned", "", "")}]
    assert problems == [ObjectProblem(v.state.ref, "guest shutdown refused (ToolsUnavailable)")]


def test_no_shutdown_without_its_intent(monkeypatch):
    s = Server()
    v = cycled_vm(s, monkeypatch)
    vplan = run(s, v, journal=Journal(s, fail_intent="vmc"))
    assert [e for e in s.log if e[0] != "outcome"] == []
    assert {(c.outcome, c.message) for c in v.changes} == {(Outcome.SKIPPED, executor.NOT_WRITTEN)}
    assert vplan.plan.problems == [ObjectProblem(
        v.state.ref, "journal: disk full; nothing written to vSphere for this object", "journal")]


def test_a_vm_that_does_not_power_on_again_is_logged_and_its_changes_still_settled(monkeypatch):
    s = Server()
    v = cycled_vm(s, monkeypatch, fail_on=True)
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))  # other tests may set WARNING
    try:
        with capture_logs() as logs:
            vplan = run(s, v)
    finally:
        structlog.configure(**saved)
    assert outcomes(v)["vm.cold"][0] == "applied" and vplan.plan.problems == []
    assert {k: e[k] for e in logs for k in ("event", "object", "error") if e["log_level"] == "error"} == {
        "event": "could not power the VM on again", "object": "web-1", "error": "no host can run it"}
    assert [(e["event"], e["object"]) for e in logs if e["log_level"] == "info"] == [
        ("guest shut down for changes that need power-off", "web-1")]


def test_apply_object_power_cycles_a_vm_too(monkeypatch):
    s = Server()
    v = cycled_vm(s, monkeypatch)
    today = __import__("datetime").date.today()
    problems = executor.apply_object(Conn(s), plan(v), v, {"vmc": Vmc()}, today, journal=Journal(s))
    assert problems == [] and ("shutdown", "vm-1") in s.log and s.log[-1] == (
        "outcome", ("vm.cold", "applied"), ("vm.hot", "applied"))


def test_apply_object_reports_a_failed_read_back():
    s = Server()
    s.fetch_fault = RuntimeError("gone")
    a = host(s, "host-1", {"alpha.y": 2})
    problems = executor.apply_object(Conn(s), plan(a), a, {"alpha": Alpha()},
                                     today=__import__("datetime").date.today())
    assert problems == [ObjectProblem(a.state.ref, "read-back failed: RuntimeError: gone")]


def test_without_a_journal_the_changes_are_still_written():
    s = Server()
    a = host(s, "host-1", {"beta.z": 3})
    executor.apply_plan(Conn(s), plan(a))
    assert s.log == [("write", "host-1", "beta.z"), ("read", "host-1")] and outcomes(a)["beta.z"][0] == "applied"


def test_a_failed_read_back_of_one_type_leaves_the_other_types_settled(monkeypatch):
    monkeypatch.setattr(registry, "ALL", (Alpha(), Beta(), Gamma(), Vmc()))
    s = Server()
    s.fetch_fault, s.fetch_fail_for = RuntimeError("gone"), {"host-1"}
    a = host(s, "host-1", {"beta.z": 3})
    ref = ObjectRef("VirtualMachine", "vm-1", "web-1", "lab")
    s.props["vm-1"] = {"vm.hot": "old", "runtime.powerState": "poweredOff", "config.template": False}
    v = PlannedObject(ObjectState(ref, {"vm.hot": "old"}, mo=vim.VirtualMachine("vm-1")),
                      {"vmc": {("vm", "hot"): dv(2)}}, [Change(ref, "vmc", ("vm", "hot"), "old", 2)])
    vplan = run(s, a, v, concurrency=1)
    assert outcomes(a)["beta.z"][0] == "unknown" and outcomes(v)["vm.hot"] == ("applied", "", "")
    assert [p.object.moid for p in vplan.plan.problems] == ["host-1"]


def test_an_unexpected_failure_of_the_source_reads_leaves_every_object_unknown(monkeypatch):
    def broken(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("source reader broke")

    monkeypatch.setattr(executor.sources, "read", broken)
    s = Server()
    a, b = host(s, "host-1", {"beta.z": 3}), host(s, "host-2", {"gamma.w": 3})
    vplan = run(s, a, b)
    assert outcomes(a)["beta.z"][0] == "unknown" and outcomes(b)["gamma.w"][0] == "unknown"
    assert Gamma.prefetched == [] and Gamma.observed == []
    assert sorted(p.object.moid for p in vplan.plan.problems) == ["host-1", "host-2"]
    assert {p.message for p in vplan.plan.problems} == {"read-back failed: RuntimeError: source reader broke"}


class Delta(Gamma):
    name: ClassVar[str] = "delta"
    order = 5
    spec_key = "delta"
    properties = ("delta.v",)


def test_each_prefetching_controller_reads_once_for_its_objects(monkeypatch):
    monkeypatch.setattr(registry, "ALL", (Alpha(), Beta(), Gamma(), Delta()))
    s = Server()
    run(s, host(s, "host-1", {"gamma.w": 4, "delta.v": 5}), host(s, "host-2", {"delta.v": 5}), concurrency=1)
    assert Gamma.callers == [("gamma", "Conn"), ("delta", "Conn")]
    assert [sorted(moids) for moids, _ in Gamma.prefetched] == [["host-1"], ["host-1", "host-2"]]


def test_at_most_concurrency_objects_are_written_at_once():
    """Three writers would meet at a barrier of three within its timeout; with two at once they never can."""
    s = Server()
    s.barrier = threading.Barrier(3, timeout=0.3)
    objects = [host(s, f"host-{i}", {"beta.z": 1}) for i in range(3)]
    run(s, *objects, concurrency=2)
    assert ("barrier broken",) in s.log and all(outcomes(po)["beta.z"][0] == "applied" for po in objects)


def test_apply_object_drops_the_problem_of_a_call_whose_fields_all_took_effect():
    s = Server()
    s.fail = {"alpha.y": RuntimeError("lost the answer")}
    a = host(s, "host-1", {"alpha.y": 2})
    assert executor.apply_object(Conn(s), plan(a), a, {"alpha": Alpha()},
                                 today=__import__("datetime").date.today()) == []


def test_apply_object_on_a_read_only_host_notes_audit_only():
    s = Server()
    s.fail_before = {"alpha.y": vim.fault.RestrictedVersion()}
    a = host(s, "host-1", {"alpha.y": 2})
    vplan = plan(a)
    assert executor.apply_object(Conn(s), vplan, a, {"alpha": Alpha()}, today=__import__("datetime").date.today()) == []
    assert vplan.plan.notes == [f"HostSystem esx-host-1: audit only: {executor.RESTRICTED_MESSAGE}"]


def test_the_read_back_rereads_the_sources_fresh_with_the_desired_values(monkeypatch):
    calls: list[tuple[Any, ...]] = []
    real = executor.sources.read

    def spy(conn: Any, targets: Any, cache: Any, **kw: Any) -> Any:
        calls.append((cache, kw.get("fresh"), kw.get("desired")))
        return real(conn, targets, cache, **kw)

    monkeypatch.setattr(executor.sources, "read", spy)
    s = Server()
    a = host(s, "host-1", {"beta.z": 3})
    vplan = plan(a)
    executor.apply_plan(Conn(s), vplan, journal=Journal(s))
    assert calls == [(vplan.cache, True, {"host-1": {"beta": {("beta", "z"): 3}}})]
