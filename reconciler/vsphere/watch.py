"""Property watch: a private PropertyCollector filter over a ContainerView, read with WaitForUpdatesEx.

    with PropertyWatch(conn, {vim.HostSystem: ["config.service"], vim.VirtualMachine: ["config.extraConfig"]}) as w:
        for update in w.poll():          # the first poll returns every object as "enter"
            ...                          # then only changes: "modify", "enter" (new), "leave" (deleted)

If the session or the collector is lost (vCenter restart, session expiry) the watch rebuilds itself on the next
poll and reports a full resync: every object again as ``enter``, plus a synthesised ``leave`` for each object it
knew that is gone, so a consumer never misses a deletion.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyVmomi import vim, vmodl

from reconciler.vsphere._log import log
from reconciler.vsphere.faults import FaultKind, classify, describe
from reconciler.vsphere.inventory import type_name
from reconciler.vsphere.protocol import Connection

PC = vmodl.query.PropertyCollector
_RESET_FAULTS = (vmodl.fault.ManagedObjectNotFound, vmodl.query.InvalidCollectorVersion, vim.fault.NotAuthenticated)


@dataclass
class Update:
    """One object's change. ``changes`` maps each changed path to its new value (``None`` when removed);
    for ``enter`` it holds every watched path that has a value; for ``leave`` it is empty."""

    kind: str                     # "enter" | "modify" | "leave"
    moid: str
    type: str
    ref: Any = field(repr=False)
    changes: dict[str, Any] = field(default_factory=dict)

    @property
    def paths(self) -> list[str]:
        return list(self.changes)


class PropertyWatch:
    """Watch ``specs`` (``{vim type: [paths]}``) on every managed entity of those types under ``root`` (default:
    the root folder), plus explicit ``refs`` (their types must be in ``specs``; non-entity types such as
    OptionManager are watched through ``refs`` only). Not thread-safe except :meth:`stop`."""

    def __init__(self, conn: Connection, specs: Mapping[type, Sequence[str]], root: Any = None, *,
                 refs: Iterable[Any] = (), max_wait: int = 30, max_object_updates: int | None = None):
        self.conn = conn
        self.specs = {t: list(dict.fromkeys(p)) for t, p in specs.items()}
        self.root = root
        self.refs = list(refs)
        self.max_wait = max_wait
        self.max_object_updates = max_object_updates
        self.version = ""
        self.resyncs = 0                      # how many times the watch was rebuilt after losing its collector
        self.known: dict[str, Any] = {}       # moid -> ref of objects currently in the watch
        self._collector: Any = None
        self._view: Any = None
        self._stopped = threading.Event()
        self._resync_pending = False
        self._previous: dict[str, Any] = {}

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> "PropertyWatch":
        content = self.conn.content
        self._collector = self.conn.call(content.propertyCollector.CreatePropertyCollector)
        object_specs = []
        view_types = [t for t in self.specs if issubclass(t, vim.ManagedEntity)]  # others only as `refs`
        if view_types:
            self._view = self.conn.call(content.viewManager.CreateContainerView,
                                        container=self.root or content.rootFolder, type=view_types,
                                        recursive=True)
            traverse = PC.TraversalSpec(name="traverseView", path="view", skip=False, type=vim.view.ContainerView)
            object_specs.append(PC.ObjectSpec(obj=self._view, skip=True, selectSet=[traverse]))
        object_specs += [PC.ObjectSpec(obj=r, skip=False) for r in self.refs]
        prop_specs = [PC.PropertySpec(type=t, pathSet=p, all=False) for t, p in self.specs.items()]
        spec = PC.FilterSpec(objectSet=object_specs, propSet=prop_specs)
        self.conn.call(self._collector.CreateFilter, spec, partialUpdates=True)
        self.version = ""
        return self

    def stop(self) -> None:
        """End the watch (safe from another thread: a blocked poll returns)."""
        self._stopped.set()
        collector, view = self._collector, self._view
        self._collector = self._view = None
        for fn in ((collector.CancelWaitForUpdates, collector.DestroyPropertyCollector) if collector else ()) + \
                  ((view.DestroyView,) if view else ()):
            try:
                fn()
            except Exception:  # noqa: BLE001 - best effort; the session may be gone
                pass

    def __enter__(self) -> "PropertyWatch":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    # -- reading ---------------------------------------------------------------------------------------------
    def poll(self, max_wait: float | None = None) -> list[Update]:
        """Wait up to ``max_wait`` seconds (default :attr:`max_wait`) for changes and return them (``[]`` if
        none). Follows truncated update sets to the end."""
        if self._stopped.is_set():
            return []
        if self._collector is None:
            self.conn.ping()              # re-logs in if the session is gone
            self._rebuild()
        wait_s = self.max_wait if max_wait is None else max_wait
        updates: list[Update] = []
        transient_rebuilt = False
        while True:
            options = PC.WaitOptions(maxWaitSeconds=max(0, int(wait_s)), maxObjectUpdates=self.max_object_updates)
            try:
                # never retried as is: a reply lost to a timeout may have advanced the collector, and asking
                # again with the same version would then miss those updates (the first sync among them)
                result = self.conn.call_once(self._collector.WaitForUpdatesEx, self.version, options)
            except vmodl.fault.RequestCanceled:
                return updates                                      # stop() was called
            except Exception as exc:
                if self._stopped.is_set():
                    return updates
                kind = classify(exc)
                # a refused connection never reached vCenter: nothing was lost, and the session loop reconnects
                maybe_lost_reply = kind is FaultKind.TRANSIENT and not isinstance(exc, ConnectionRefusedError)
                if isinstance(exc, _RESET_FAULTS) or kind is FaultKind.AUTH or (
                        maybe_lost_reply and not transient_rebuilt):
                    log.warning("property watch lost its collector; rebuilding", fault=describe(exc))
                    transient_rebuilt = transient_rebuilt or kind is FaultKind.TRANSIENT
                    if not self.conn.ping():  # re-logs in if the session is gone; no answer: the loop reconnects
                        raise
                    self._rebuild()
                    updates = []                                    # the rebuilt collector's first answer has all
                    wait_s = 0
                    continue
                raise
            if result is None:
                break
            self.version = result.version
            updates.extend(self._convert(result))
            if not result.truncated:
                break
            wait_s = 0
        if self._resync_pending:
            updates = self._finish_resync(updates)
        return updates

    def __iter__(self) -> Iterator[Update]:
        """Yield updates until :meth:`stop`."""
        while not self._stopped.is_set():
            yield from self.poll()

    # -- internals -------------------------------------------------------------------------------------------
    def _convert(self, result: Any) -> list[Update]:
        out = []
        for filter_set in result.filterSet or ():
            for obj in filter_set.objectSet or ():
                ref = obj.obj
                moid = ref._moId
                kind = str(obj.kind)
                changes = {}
                for change in obj.changeSet or ():
                    changes[change.name] = None if change.op in ("remove", "indirectRemove") else change.val
                if kind == "leave":
                    self.known.pop(moid, None)
                    changes = {}
                else:
                    self.known[moid] = ref
                out.append(Update(kind=kind, moid=moid, type=type_name(ref), ref=ref, changes=changes))
        return out

    def _rebuild(self) -> None:
        old_collector, old_view = self._collector, self._view
        self._collector = self._view = None
        for fn in ((old_collector.DestroyPropertyCollector,) if old_collector else ()) + \
                  ((old_view.DestroyView,) if old_view else ()):
            try:
                fn()
            except Exception:  # noqa: BLE001 - probably already gone with the old session
                pass
        self.start()
        self.resyncs += 1
        self._resync_pending = bool(self.known)
        self._previous = dict(self.known)
        self.known.clear()

    def _finish_resync(self, updates: list[Update]) -> list[Update]:
        self._resync_pending = False
        entered = {u.moid for u in updates if u.kind == "enter"}
        gone = [Update(kind="leave", moid=m, type=type_name(r), ref=r) for m, r in self._previous.items()
                if m not in entered]
        self._previous = {}
        return updates + gone
