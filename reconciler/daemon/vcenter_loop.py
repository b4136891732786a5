"""The daemon's per-vCenter loop: one connection, one property watch, one object cache, one work queue with
its workers. Level-triggered: a watch update only enqueues the object's key; a worker re-plans that object from
the cache against the current specs and converges it.

Lifecycle: `start()` runs `_run` in a thread that (re)connects with capped exponential backoff; each session
builds the watch for the active controllers' properties, enqueues every object (first pass), then polls the watch
(WaitForUpdatesEx), enqueueing only changed objects, and re-enqueues everything at each resync (cheap: the cache
is kept current by the watch, so a resync of a converged estate makes no vSphere calls)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from pyVmomi import vim

from reconciler.controllers.contract import ConnectionFacts, Related
from reconciler.daemon.flaps import FlapDetector
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.reconcile import ObjectResult, Reconciler
from reconciler.daemon.specstore import SpecStore
from reconciler.daemon.status import Beater, StatusBoard
from reconciler.daemon.workqueue import WorkerPool, WorkQueue, default_controller_rate_limiter, run_workers
from reconciler.engine import planner, sources
from reconciler.engine.policies import policies_for
from reconciler.engine.runner import facts_of, remediation_times
from reconciler.events.journal import Journal, JournalError
from reconciler.vsphere import inventory
from reconciler.vsphere.connection import Connection
from reconciler.vsphere.faults import describe
from reconciler.vsphere.settings import ConnectionSettings
from reconciler.vsphere.watch import PropertyWatch, Update

log = structlog.get_logger("vsr.daemon")


class LoopStopped(RuntimeError):
    """Raised out of a retry pause when the loop is stopping (ends the vSphere call in hand)."""


@dataclass(frozen=True)
class LoopOptions:
    resync: float = 600.0
    concurrency: int = 4
    qps: float = 10.0
    burst: int = 100
    flap_threshold: int = 5
    flap_window: float = 600.0
    reconnect_cap: float = 60.0
    mirror_events: bool = False  # also post each object's events into vCenter's event history (PostEvent)
    poll_concurrency: int = 4  # polled sources read at the same time, per vCenter
    poll_interval: float | None = None  # every polled source's interval (None: each source's own, 10 min)
    watch_page: int = 1000  # object updates per WaitForUpdatesEx reply (maxObjectUpdates): the first sync is paged


class VCenterLoop:
    def __init__(self, settings: ConnectionSettings, store: SpecStore, journal: Journal, metrics: Metrics,
                 board: StatusBoard, heartbeat: Beater, options: LoopOptions = LoopOptions(),
                 on_results: Callable[[], None] | None = None):
        self.name = settings.name
        self.settings = settings
        self.store = store
        self.journal = journal
        self.metrics = metrics
        self.board = board
        self.heartbeat = heartbeat
        self.options = options
        self.on_results = on_results
        self.queue: WorkQueue[str] = WorkQueue(f"vcenter-{self.name}",
                               default_controller_rate_limiter(qps=options.qps, burst=options.burst), metrics=metrics)
        self.flaps: FlapDetector[str] = FlapDetector(options.flap_threshold, options.flap_window)
        self.stop_event = threading.Event()
        self.first_pass_done = threading.Event()
        self.lock = threading.RLock()
        self.conn: Connection | None = None
        self.facts: ConnectionFacts | None = None
        self.cache: dict[str, inventory.ObservedObject] = {}  # moid -> watched object
        self.stale: set[str] = set()  # objects whose cached props may be incomplete: refetch before planning
        self.sources = sources.SourceCache(poll_concurrency=options.poll_concurrency,
                                             poll_interval=options.poll_interval)  # declared sources' values
        self.related_owner: dict[str, str] = {}  # related object moid -> the managed object it belongs to
        self.entities: dict[str, Any] = {}
        self._watch: PropertyWatch | None = None
        self.remediated: dict[tuple[str, tuple[str, ...]], dt.datetime] = {}  # (moid, path) -> when vsr changed it
        self.unsupported: dict[str, dict[str, str]] = {}  # moid -> controller -> why (learnt from apply faults)
        self.results: dict[str, ObjectResult] = {}  # moid -> its last reconcile (for status and metrics)
        self.versions: dict[str, int] = {}  # moid -> bumped on every watched change of its inputs
        self.clean: dict[str, tuple[int, int, dt.date]] = {}  # moid -> fingerprint of its last clean reconcile
        self._thread: threading.Thread | None = None
        self._workers: WorkerPool[str] | None = None
        self._pending_first: set[str] = set()
        self.unverified: set[str] = set()  # objects with open write-ahead intents: verified at their next reconcile
        self.reconciler = Reconciler(self)

    # -- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> None:
        self._workers = run_workers(self.queue, self.options.concurrency, self.reconcile_key, self.stop_event,
                                    name=f"vsr-{self.name}")
        self._thread = threading.Thread(target=self._run, name=f"vsr-loop-{self.name}", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """Started and its thread still alive (it reconnects by itself: an unreachable vCenter keeps it running)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 2.5) -> None:
        """Stop polling, let workers finish the object in hand, close the session; gives up waiting after
        `timeout` seconds (threads still blocked in a vSphere call are daemon threads and are left behind)."""
        self.request_stop()
        self.join(timeout)

    def request_stop(self) -> None:
        """Ask the loop and its workers to stop; never blocks (the watch is cancelled from a helper thread,
        because cancelling is a vSphere call and the vCenter may be unreachable)."""
        self.stop_event.set()
        self.queue.shutdown()
        watch = self._watch
        if watch is not None:
            threading.Thread(target=watch.stop, name=f"vsr-cancel-{self.name}", daemon=True).start()

    def join(self, timeout: float) -> None:
        """Wait up to `timeout` seconds in all for the loop thread and the workers."""
        deadline = time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._workers is not None:
            for thread in self._workers.threads:
                thread.join(max(0.0, deadline - time.monotonic()))

    def alive_threads(self) -> list[str]:
        """Names of this loop's threads still running (after `join`: the ones blocked in a call)."""
        threads = ([self._thread] if self._thread is not None else []) + \
            (list(self._workers.threads) if self._workers is not None else [])
        return [t.name for t in threads if t.is_alive()]

    def _run(self) -> None:
        delay = 1.0
        while not self.stop_event.is_set():
            self.heartbeat.beat()
            try:
                self._session()
                delay = 1.0
            except Exception as exc:  # noqa: BLE001 - any failure ends the session; we reconnect
                if self.stop_event.is_set():
                    break
                message = describe(exc) if not isinstance(exc, RuntimeError) else str(exc)
                log.warning("vCenter session ended; reconnecting", vcenter=self.name, error=message,
                            retry_in=round(delay, 1))
                self.board.set_vcenter(self.name, False, message)
                self.metrics.set_vcenter_connected(self.name, False)
            self._backoff(delay)
            delay = min(delay * 2, self.options.reconnect_cap)

    def _retry_sleep(self, seconds: float) -> None:
        """The pause between retries of a transient fault (in the loop thread it beats like the backoff; in a
        worker it does not, a worker's retries are not the loop's progress); a stop ends the call."""
        if threading.current_thread() is self._thread:
            self._backoff(seconds)
        else:
            self.stop_event.wait(seconds)
        if self.stop_event.is_set():
            raise LoopStopped(f"{self.name}: stopping")

    def _backoff(self, delay: float) -> None:
        """Wait `delay` seconds (or until stopped), beating the heartbeat every second: waiting is progress."""
        deadline = time.monotonic() + delay
        while not self.stop_event.is_set():
            self.heartbeat.beat()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.stop_event.wait(min(1.0, left))

    def _session(self) -> None:
        conn = Connection(self.settings, sleep=self._retry_sleep).connect()
        self.heartbeat.beat()
        with self.lock:
            self.conn, self.facts = conn, facts_of(conn, self.name)
            self.unsupported.clear()  # the target may have been upgraded
            self.remediated = remediation_times(self.journal, self.name)
            self.clean.clear()
            self.sources = sources.SourceCache(poll_concurrency=self.options.poll_concurrency,
                                             poll_interval=self.options.poll_interval)  # static per session
            try:  # an interrupted run left intents without outcome: verify each object at its first reconcile
                self.unverified = {i.object.moid for i in self.journal.intents(vcenter=self.name)}
            except JournalError as exc:
                self.journal_failed(str(exc))
        self.board.set_vcenter(self.name, True)
        self.metrics.set_vcenter_connected(self.name, True)
        log.info("connected to vCenter", vcenter=self.name, server=self.settings.address)
        watches: list[PropertyWatch] = []
        generation = -1
        next_resync = time.monotonic() + self.options.resync
        try:
            while not self.stop_event.is_set():
                snapshot = self.store.current
                if snapshot.generation != generation:
                    for w in watches:
                        w.stop()
                    watches = self._build_watches(conn)
                    if generation != -1:  # a spec edit: give flapping fields another chance
                        self.flaps = FlapDetector(self.options.flap_threshold, self.options.flap_window)
                    generation = snapshot.generation
                    for extra in watches[1:]:
                        self._handle(extra.poll(max_wait=0), initial=True)
                    self.enqueue_all(first=True)
                for w in watches[1:]:
                    self._handle(w.poll(max_wait=0))
                self._handle(watches[0].poll(max_wait=1))
                self.heartbeat.beat()
                if time.monotonic() >= next_resync:
                    next_resync = time.monotonic() + self.options.resync
                    self.enqueue_all()
                    self.board.mark_full_resync(self.name)
        finally:
            for w in watches:
                w.stop()
            with self.lock:
                self.conn = None
            conn.close()
            self.board.set_vcenter(self.name, False, "disconnected")
            self.metrics.set_vcenter_connected(self.name, False)

    # -- watching -------------------------------------------------------------------------------------------
    def _policies(self) -> list[Any]:
        return policies_for(self.store.current.specs, self.name)

    def _build_watches(self, conn: Connection) -> list[PropertyWatch]:
        """The main watch over the managed objects (its first answer is handled here), then one over the related
        objects the active controllers declare, found through the references the main watch delivered."""
        controllers = planner.active_controllers([p for p in self._policies() if not p.suspended])
        specs = sources.property_specs(controllers, with_name=True)
        for vim_type in (vim.HostSystem, vim.VirtualMachine):  # always watched: unmanaged objects, new VMs
            specs.setdefault(vim_type, ["name"])
        self.entities = inventory.entity_paths(conn)
        self.heartbeat.beat()
        with self.lock:
            self.cache.clear()
            self.stale.clear()
            self.related_owner = {}
            self.sources.related.clear()
        main = PropertyWatch(conn, specs, refs=sources.singleton_refs(conn, specs),
                             max_object_updates=self.options.watch_page).start()
        self._watch = main
        self._handle(main.poll(max_wait=0), initial=True)
        watches = [main]
        related = self._watch_related(conn, sources.related_declarations(controllers).values())
        if related is not None:
            watches.append(related)
        return watches

    def _watch_related(self, conn: Connection, declared: Iterable[Related]) -> PropertyWatch | None:
        """One watch over every declared related object of the cached managed objects (generic: the owner map
        says whose input each related object is)."""
        refs: dict[str, Any] = {}
        specs: dict[type, list[str]] = {}
        with self.lock:
            for r in declared:
                for moid, obj in self.cache.items():
                    ref = obj.props.get(r.via)
                    if ref is None:
                        continue
                    refs[ref._moId] = ref
                    self.related_owner[ref._moId] = moid
                    paths = specs.setdefault(type(ref), [])
                    paths.extend(p for p in r.properties if p not in paths)
        if not refs:
            return None
        return PropertyWatch(conn, specs, refs=list(refs.values()), max_object_updates=self.options.watch_page).start()

    def _handle(self, updates: list[Update], initial: bool = False) -> None:
        structural = False
        for update in updates:
            owner = self.related_owner.get(update.moid)
            if owner is not None:
                self._related_update(owner, update, initial)
                continue
            with self.lock:
                if update.kind == "leave":
                    self.cache.pop(update.moid, None)
                    self.results.pop(update.moid, None)
                    self.clean.pop(update.moid, None)
                    self.flaps.forget(update.moid)
                    structural = True
                    continue
                obj = self.cache.get(update.moid)
                if obj is None:
                    obj = inventory.ObservedObject(update.type, update.moid, None, {}, ref=update.ref)
                    self.cache[update.moid] = obj
                    structural = structural or update.kind == "enter" and not initial
                obj.props.update(update.changes)
                obj.name = obj.props.get("name", obj.name)
                self._bump(update.moid)
                if any("[" in path for path in update.changes):  # a partial update of an array element
                    self.stale.add(update.moid)
            if not initial:
                self.queue.add(update.moid)
        if structural and self.conn is not None:
            self.entities = inventory.entity_paths(self.conn)  # a VM or host came or went: placements change

    def _related_update(self, owner: str, update: Update, initial: bool) -> None:
        """A watched related object changed: cache its properties (a partial array update drops them, so the engine
        reads them afresh) and reconcile its owner."""
        with self.sources.lock:
            if update.kind == "leave" or any("[" in path for path in update.changes):
                self.sources.related.pop(update.moid, None)
            else:
                self.sources.related.setdefault(update.moid, {}).update(update.changes)
        self._bump(owner)
        if not initial:
            self.queue.add(owner)

    def _bump(self, moid: str) -> None:
        with self.lock:
            self.versions[moid] = self.versions.get(moid, 0) + 1

    def fingerprint(self, moid: str) -> tuple[int, int, dt.date]:
        return (self.versions.get(moid, 0), self.store.current.generation, dt.date.today())

    def enqueue_all(self, first: bool = False) -> None:
        """Enqueue every object whose inputs changed since its last clean reconcile (all of them at first).
        A converged object whose watched properties, spec generation and day are unchanged would plan to the
        same result, so a resync of a converged estate costs a dictionary lookup per object."""
        with self.lock:
            keys = list(self.cache)
            if not first:
                keys = [k for k in keys if self.clean.get(k) != self.fingerprint(k)]
        if first:
            self._pending_first = set(keys)
            if not keys:
                self.first_pass_done.set()
        for key in keys:
            self.queue.add(key)

    # -- reconciling one object -----------------------------------------------------------------------------
    def reconcile_key(self, moid: str) -> bool:
        started = time.monotonic()
        with self.lock:
            conn, facts = self.conn, self.facts
            obj = self.cache.get(moid)
        try:
            if conn is None or facts is None:
                return False  # disconnected: retried with backoff after reconnecting
            if obj is None:
                return True  # gone
            result = self.reconciler.reconcile(conn, facts, moid, obj)
            if result.requeue_after is not None:
                self.queue.add_after(moid, result.requeue_after)
            return result.ok
        finally:
            self._first_pass_progress(moid)
            elapsed = time.monotonic() - started
            self.metrics.set_last_reconcile(self.name)
            if self.on_results is not None:
                self.on_results()
            log.debug("reconciled", vcenter=self.name, object=moid, seconds=round(elapsed, 3))

    def _first_pass_progress(self, moid: str) -> None:
        with self.lock:
            if moid in self._pending_first:
                self._pending_first.discard(moid)
                if not self._pending_first:
                    self.first_pass_done.set()

    # -- write-ahead journal --------------------------------------------------------------------------------
    def journal_failed(self, message: str) -> None:
        log.error("the journal cannot be written; no vSphere writes until it can", vcenter=self.name,
                  error=message)
        self.metrics.journal_write_failure()
        self.board.set_journal_error(message)

    def journal_ok_again(self) -> None:
        self.board.set_journal_error(None)

    # -- status -----------------------------------------------------------------------------------------------
    def flapping_by_policy(self) -> dict[str, int]:
        """Fields the flap detector currently holds back, counted per owning policy."""
        out: dict[str, int] = {}
        with self.lock:
            for moid, field in self.flaps.flapping():
                result = self.results.get(moid)
                policy = result.field_policy.get(field) if result else None
                if policy:
                    out[policy] = out.get(policy, 0) + 1
        return out

    def snapshot_results(self) -> Mapping[str, "ObjectResult"]:
        with self.lock:
            return dict(self.results)
