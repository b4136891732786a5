"""Waiting for many vSphere tasks at once through a private PropertyCollector (WaitForUpdatesEx), not polling.

`wait` waits for tasks known together. `shared_waiter(conn)` scopes one `SharedWaiter` to a block (an apply pass):
every `run` on that connection from any thread then waits through one private collector with one filter over a
ListView of the tasks, so a task costs its submission and one `ModifyListView` instead of a collector of its own.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim, vmodl

from reconciler.vsphere.faults import FaultKind, classify, describe
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
    spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=t, skip=False) for t in tasks],
        propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.Task, pathSet=_PATHS, all=False)])

    def new_collector() -> Any:
        made = conn.call(conn.content.propertyCollector.CreatePropertyCollector)
        conn.call(made.CreateFilter, spec, partialUpdates=True)
        return made

    collector = new_collector()
    renewed = False
    try:
        version, first = "", True
        while any(s.get("info.state") not in _TERMINAL for s in state.values()):
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0 and not first:
                break
            first = False                                  # timeout=0 still reads the current states once
            wait_s = 30 if remaining is None else max(0, min(30, math.ceil(remaining)))
            options = vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=wait_s)
            try:  # not retried as is: a reply lost to a timeout may have advanced the collector
                update = conn.call_once(collector.WaitForUpdatesEx, version, options)
            except Exception as exc:
                if renewed or classify(exc) is not FaultKind.TRANSIENT:
                    raise
                renewed = True                             # a fresh collector's first answer has every state
                with contextlib.suppress(Exception):
                    conn.call(collector.DestroyPropertyCollector)
                collector, version = new_collector(), ""
                continue
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
    Every task vsr runs sets a state and is read back afterwards, so repeating it is safe. Inside
    `shared_waiter(conn)` the wait goes through the shared collector."""
    def submit_and_wait() -> Any:
        task = method(**kwargs)
        waiter = _waiter_of(conn)
        return raise_on_error(waiter.wait(task, timeout) if waiter is not None else wait_one(conn, task, timeout))

    submit_and_wait.__name__ = getattr(method, "__name__", "task")
    return conn.call(submit_and_wait)


def _outcome(task: Any, values: dict[str, Any]) -> TaskOutcome:
    task_state = values.get("info.state")
    return TaskOutcome(task=task, moid=task._moId, state=task_state if task_state in _TERMINAL else "timeout",
                       result=values.get("info.result"), fault=values.get("info.error"),
                       entity_name=values.get("info.entityName"), description=values.get("info.descriptionId"))


class SharedWaiter:
    """Waits for the tasks of many threads through one private PropertyCollector and one filter over a ListView.

    A task that has already ended when it is first read (one RetrievePropertiesEx) needs no wait. The collector
    is created lazily for the first task that has not; one thread reads `WaitForUpdatesEx` and wakes the waiting threads. Any
    failure of the shared machinery (a lost session, a server without ListView) makes every wait fall back to
    `wait_one`, so a task's outcome never depends on the optimisation."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.cond = threading.Condition()
        self.values: dict[str, dict[str, Any]] = {}
        self.collector: Any = None
        self.view: Any = None
        self.thread: threading.Thread | None = None
        self.broken = False
        self.stopping = False

    def _start(self) -> None:
        conn = self.conn
        self.collector = conn.call(conn.content.propertyCollector.CreatePropertyCollector)
        self.view = conn.call(conn.content.viewManager.CreateListView, obj=[])
        pc = vmodl.query.PropertyCollector
        traverse = pc.TraversalSpec(name="traverseList", type=vim.view.ListView, path="view", skip=False)
        spec = pc.FilterSpec(objectSet=[pc.ObjectSpec(obj=self.view, skip=True, selectSet=[traverse])],
                             propSet=[pc.PropertySpec(type=vim.Task, pathSet=_PATHS, all=False)])
        conn.call(self.collector.CreateFilter, spec, partialUpdates=True)
        self.thread = threading.Thread(target=self._loop, name="vsr-tasks", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        version = ""
        while not self.stopping:
            try:
                update = self.collector.WaitForUpdatesEx(version, vmodl.query.PropertyCollector.WaitOptions(
                    maxWaitSeconds=30))
            except Exception:  # noqa: BLE001 - cancelled at close, or the session is gone: waits fall back
                with self.cond:
                    self.broken = True
                    self.cond.notify_all()
                return
            if update is None:
                continue
            version = update.version
            with self.cond:
                for filter_set in update.filterSet or ():
                    for obj in filter_set.objectSet or ():
                        values = self.values.get(obj.obj._moId)
                        if values is None:
                            continue
                        for change in obj.changeSet or ():
                            values[change.name] = None if change.op == "remove" else change.val
                self.cond.notify_all()

    def wait(self, task: Any, timeout: float | None = 300.0) -> TaskOutcome:
        """Until `task` finished or `timeout` seconds passed (then state ``timeout``)."""
        if task is None:
            raise ValueError("no task to wait for")
        moid = task._moId
        values = self._read_now(task)
        if values.get("info.state") in _TERMINAL:  # most reconfigurations end at once: no wait at all
            return _outcome(task, values)
        with self.cond:
            if not self.broken and self.collector is None:
                try:
                    self._start()
                except Exception:  # noqa: BLE001
                    self.broken = True
            if self.broken:
                return wait_one(self.conn, task, timeout)
            values = self.values.setdefault(moid, {})
        try:
            self.conn.call(self.view.ModifyListView, add=[task])
        except Exception:  # noqa: BLE001
            with self.cond:
                self.values.pop(moid, None)
            return wait_one(self.conn, task, timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            while values.get("info.state") not in _TERMINAL and not self.broken:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self.cond.wait(remaining)
            self.values.pop(moid, None)
            fallback = self.broken and values.get("info.state") not in _TERMINAL
        return wait_one(self.conn, task, timeout) if fallback else _outcome(task, values)

    def _read_now(self, task: Any) -> dict[str, Any]:
        """The task's state now, from the session's collector (one RetrievePropertiesEx); {} if unreadable."""
        pc = vmodl.query.PropertyCollector
        spec = pc.FilterSpec(objectSet=[pc.ObjectSpec(obj=task, skip=False)],
                             propSet=[pc.PropertySpec(type=vim.Task, pathSet=_PATHS, all=False)])
        try:
            result = self.conn.call(self.conn.content.propertyCollector.RetrievePropertiesEx, specSet=[spec],
                                    options=pc.RetrieveOptions())
        except Exception:  # noqa: BLE001 - then wait through the collector
            return {}
        return {p.name: p.val for o in (result.objects if result is not None else ()) for p in o.propSet or ()}

    def close(self) -> None:
        """Stop the reader and destroy the collector and the view (best effort: the session may be gone)."""
        self.stopping = True
        if self.collector is None:
            return
        for step in (self.collector.CancelWaitForUpdates, self.collector.DestroyPropertyCollector,
                     self.view.DestroyView):
            try:
                step()
            except Exception:  # noqa: BLE001
                pass
        if self.thread is not None:
            self.thread.join(timeout=5)


_WAITERS: dict[int, tuple[SharedWaiter, int]] = {}   # id(conn) -> (waiter, open blocks)
_WAITERS_LOCK = threading.Lock()


def _waiter_of(conn: Connection) -> SharedWaiter | None:
    with _WAITERS_LOCK:
        entry = _WAITERS.get(id(conn))
    return entry[0] if entry is not None else None


@contextlib.contextmanager
def shared_waiter(conn: Connection) -> Iterator[SharedWaiter]:
    """Within the block, `run` on `conn` (any thread) waits through one `SharedWaiter`. Nested and concurrent
    blocks on one connection (the daemon's workers) share it; the last block to end closes it."""
    with _WAITERS_LOCK:
        waiter, blocks = _WAITERS.get(id(conn), (None, 0))
        waiter = waiter or SharedWaiter(conn)
        _WAITERS[id(conn)] = (waiter, blocks + 1)
    try:
        yield waiter
    finally:
        with _WAITERS_LOCK:
            _, blocks = _WAITERS[id(conn)]
            if blocks > 1:
                _WAITERS[id(conn)] = (waiter, blocks - 1)
            else:
                del _WAITERS[id(conn)]
        if blocks <= 1:
            waiter.close()
