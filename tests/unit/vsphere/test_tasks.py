"""tasks.wait with a fake property collector: updates applied per task, timeouts, collector cleanup."""

from __future__ import annotations

import time
import types

from pyVmomi import vim, vmodl

from reconciler.vsphere import tasks

PC = vmodl.query.PropertyCollector


def update(version, changes):
    objs = [PC.ObjectUpdate(obj=task, kind="modify",
                            changeSet=[PC.Change(name=k, op="assign", val=v) for k, v in values.items()])
            for task, values in changes]
    return PC.UpdateSet(version=version, filterSet=[PC.FilterUpdate(objectSet=objs)])


class FakeCollector:
    def __init__(self, updates):
        self.updates = list(updates)
        self.versions = []
        self.destroyed = False
        self.waits = []

    def CreateFilter(self, spec, partialUpdates):  # noqa: N802
        self.spec = spec

    def WaitForUpdatesEx(self, version, options):  # noqa: N802
        self.versions.append(version)
        self.waits.append(options.maxWaitSeconds)
        if self.updates:
            return self.updates.pop(0)
        time.sleep(0.05)
        return None

    def DestroyPropertyCollector(self):  # noqa: N802
        self.destroyed = True


class FakeConn:
    def __init__(self, collector):
        self.content = types.SimpleNamespace(
            propertyCollector=types.SimpleNamespace(CreatePropertyCollector=lambda: collector))

    def call(self, fn, *args, **kwargs):
        return fn(*args, **kwargs)

    call_once = call


def test_outcomes_in_input_order_with_versions():
    a, b = vim.Task("task-1"), vim.Task("task-2")
    fault = vim.fault.InvalidPowerState(msg="already off")
    collector = FakeCollector([
        update("1", [(a, {"info.state": "running"}), (b, {"info.state": "queued"})]),
        update("2", [(b, {"info.state": "error", "info.error": fault})]),
        update("3", [(a, {"info.state": "success", "info.result": "done", "info.entityName": "vm1"})]),
    ])
    outcomes = tasks.wait(FakeConn(collector), [a, b], timeout=10)
    assert [(o.moid, o.state) for o in outcomes] == [("task-1", "success"), ("task-2", "error")]
    assert outcomes[0].result == "done" and outcomes[0].entity_name == "vm1"
    assert outcomes[1].fault is fault and outcomes[1].message == "InvalidPowerState: already off"
    assert collector.versions == ["", "1", "2"]
    assert collector.destroyed
    assert [s.obj._moId for s in collector.spec.objectSet] == ["task-1", "task-2"]


def test_timeout_reports_unfinished_tasks():
    a = vim.Task("task-1")
    collector = FakeCollector([update("1", [(a, {"info.state": "running"})])])
    started = time.monotonic()
    outcome = tasks.wait(FakeConn(collector), [a], timeout=0.3)[0]
    assert outcome.state == "timeout" and not outcome.ok and outcome.message == "task did not finish in time"
    assert time.monotonic() - started < 2
    assert collector.destroyed
    assert all(w <= 1 for w in collector.waits)                 # never waits past the deadline by much
