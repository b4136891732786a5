"""Waiting for many vSphere tasks at once through a private PropertyCollector (WaitForUpdatesEx), not polling."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim, vmodl

from reconciler.vsphere.faults import describe
from reconciler.vsphere.protocol import Connection

_PATHS = ["info.state", "info.error", "info.result", "info.entityName", "info.descriptionId"]
_TERMINAL = ("success", "error")


@dataclass
class TaskOutcome:
    """How one task ended: ``state`` is ``success``, ``error`` or ``timeout`` (still queued/running)."""

    task: Any
    moid: str
    state: str
    result: Any = None
    fault: Any = None               # the vmodl.MethodFault of a failed task
    entity_name: str | None = None
    description: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "success"

    @property
    def message(self) -> str:
        if self.state == "success":
            return "success"
        if self.state == "timeout":
            return "task did not finish in time"
        return describe(self.fault) if self.fault is not None else "task failed"


def wait(conn: Connection, tasks: Sequence[Any], timeout: float | None = 300.0) -> list[TaskOutcome]:
    """Wait until every task in ``tasks`` finished or ``timeout`` seconds passed; outcomes in input order.

    One private PropertyCollector with one filter on the tasks' ``info.state`` (and error/result) is created,
    ``WaitForUpdatesEx`` returns as tasks change, and the collector is destroyed at the end.
    """
    tasks = [t for t in tasks if t is not None]
    if not tasks:
        return []
    deadline = None if timeout is None else time.monotonic() + timeout
    state: dict[str, dict[str, Any]] = {t._moId: {} for t in tasks}
    collector = conn.call(conn.content.propertyCollector.CreatePropertyCollector)
    try:
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=t, skip=False) for t in tasks],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.Task, pathSet=_PATHS, all=False)])
        conn.call(collector.CreateFilter, spec, partialUpdates=True)
        version, first = "", True
        while any(s.get("info.state") not in _TERMINAL for s in state.values()):
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0 and not first:
                break
            first = False                                  # timeout=0 still reads the current states once
            wait_s = 30 if remaining is None else max(0, min(30, math.ceil(remaining)))
            options = vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=wait_s)
            update = conn.call(collector.WaitForUpdatesEx, version, options)
            if update is None:
                continue                                   # maxWaitSeconds passed without a change
            version = update.version
            for filter_set in update.filterSet or ():
                for obj in filter_set.objectSet or ():
                    values = state.setdefault(obj.obj._moId, {})
                    for change in obj.changeSet or ():
                        values[change.name] = None if change.op == "remove" else change.val
    finally:
        try:
            conn.call(collector.DestroyPropertyCollector)
        except Exception:  # noqa: BLE001 - the session may be gone
            pass
    outcomes = []
    for task in tasks:
        values = state.get(task._moId, {})
        task_state = values.get("info.state")
        outcomes.append(TaskOutcome(
            task=task, moid=task._moId,
            state=task_state if task_state in _TERMINAL else "timeout",
            result=values.get("info.result"), fault=values.get("info.error"),
            entity_name=values.get("info.entityName"), description=values.get("info.descriptionId")))
    return outcomes


def wait_one(conn: Connection, task: Any, timeout: float | None = 300.0) -> TaskOutcome:
    return wait(conn, [task], timeout)[0]


def raise_on_error(outcome: TaskOutcome) -> Any:
    """The task's result, or its fault raised (``TimeoutError`` if it did not finish)."""
    if outcome.state == "success":
        return outcome.result
    if outcome.state == "timeout":
        raise TimeoutError(f"task {outcome.moid} did not finish in time")
    raise outcome.fault if outcome.fault is not None else vim.fault.VimFault(msg="task failed")


def run(conn: Connection, method: Any, timeout: float | None = 300.0, **kwargs: Any) -> Any:
    """Submit a task method (e.g. ``vm.ReconfigVM_Task``) and wait for it; return its result or raise its fault.

    Submission and outcome form one attempt under the connection's retry policy: a task that *ends* in a
    transient fault (TaskInProgress, HostCommunication, ...) is submitted again, like a transient SOAP fault.
    Every task vsr runs sets a state and is read back afterwards, so repeating it is safe."""
    def submit_and_wait() -> Any:
        return raise_on_error(wait_one(conn, method(**kwargs), timeout))

    submit_and_wait.__name__ = getattr(method, "__name__", "task")
    return conn.call(submit_and_wait)
