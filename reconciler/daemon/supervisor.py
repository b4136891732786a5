"""`vsr run`: the supervisor. Loads the specs (last known good), starts one `VCenterLoop` per vCenter (of this
shard), watches the spec paths, serves health/readiness/metrics/status, and stops cleanly on SIGTERM/SIGINT.

Shutdown is bounded (`SHUTDOWN_BUDGET` seconds in all, even with every vCenter down or black-holed): the signal
handlers only flag the request on a self-pipe (`StopSignal`), the main loop leaves its `select()` at once, asks
every loop to stop, waits for them within the budget, abandons threads still blocked in a vSphere socket call
(daemon threads; nothing they could still write matters: the journal is flushed and closed next), closes the HTTP
port and the journal."""

from __future__ import annotations

import errno
import hashlib
import os
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import structlog

from reconciler.api.models import POLICY_KINDS, VCenterSpec
from reconciler.controllers.contract import Skip
from reconciler.daemon.httpserver import HealthServer
from reconciler.daemon.liveness import DEFAULT_THRESHOLD, Liveness
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.specstore import SpecSnapshot, SpecStore
from reconciler.daemon.specwatch import SpecWatcher
from reconciler.daemon.status import StatusBoard, document_digest
from reconciler.daemon.stopsignal import StopSignal
from reconciler.daemon.vcenter_loop import LoopOptions, VCenterLoop
from reconciler.engine.policies import policies_for
from reconciler.engine.recording import expired_event, spec_event, unmatched_event
from reconciler.engine.runner import CliConnection, connection_settings
from reconciler.engine.types import Change, Outcome
from reconciler.events import model as ev
from reconciler.events.journal import Journal, JournalError
from reconciler.vsphere.settings import ConnectionSettings

log = structlog.get_logger("vsr.daemon")

SHUTDOWN_BUDGET = 2.5  # seconds from the stop request to a closed journal (the guarantee is 3 s)
MAIN_LOOP_THRESHOLD = 60.0  # the main loop turns every 0.5 s; a minute without a turn is a hang


class DaemonError(Exception):
    """The daemon cannot start (message is one line, safe to print)."""


def shard_of(name: str, count: int, pinned: int | None = None) -> int:
    """The shard (0..count-1) owning the vCenter `name`: its `spec.shard` (`pinned`, modulo `count`) if set, else
    rendezvous hashing: the index i with the largest sha256("i/name"). The same in every pod and every release, and
    going from N to N+1 shards moves only the vCenters the new shard wins (about 1/(N+1) of them)."""
    if pinned is not None:
        return pinned % count
    return max(range(count), key=lambda i: hashlib.sha256(f"{i}/{name}".encode()).digest())


def in_shard(name: str, shard: tuple[int, int] | None, pinned: int | None = None) -> bool:
    """Is the vCenter `name` (with optional `spec.shard` = `pinned`) reconciled by `shard` = (index, count)?"""
    if shard is None:
        return True
    index, count = shard
    return shard_of(name, count, pinned) == index


def parse_shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    i, n = int(index), int(count)
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {text!r}: expected I/N with 0 <= I < N")
    return i, n


@dataclass(frozen=True)
class DaemonOptions:
    paths: tuple[str, ...]
    journal: Path
    listen: str = "127.0.0.1:8080"
    loop: LoopOptions = LoopOptions()
    shard: tuple[int, int] | None = None
    cli: CliConnection | None = None
    debounce: float = 0.5
    stuck_after: float = DEFAULT_THRESHOLD  # a vCenter loop without progress this long fails /healthz


class Daemon:
    def __init__(self, options: DaemonOptions, environ: Mapping[str, str] = os.environ):
        self.options = options
        self.environ = environ
        self.store = SpecStore(options.paths)
        self.journal = Journal(options.journal)
        self.metrics = Metrics()
        self.board = StatusBoard()
        self.liveness = Liveness()
        self.liveness.register("main loop", MAIN_LOOP_THRESHOLD)
        self.heartbeat = self.liveness.beater("main loop")
        self.loops: dict[str, VCenterLoop] = {}
        self.settings: dict[str, ConnectionSettings] = {}
        self._last_counts: dict[str, Any] = {}
        self.stopper = StopSignal()
        self.reload_event = threading.Event()
        self.abandoned: list[str] = []  # threads left blocked at shutdown (names)
        self.http = HealthServer(options.listen, self.board, self.metrics, liveness=self.liveness.check)
        self.watcher = SpecWatcher(options.paths, lambda _changed: self.reload_event.set(), options.debounce)

    # -- lifecycle ----------------------------------------------------------------------------------------
    def run(self) -> int:
        """Serve until SIGTERM/SIGINT or `stop()`; 0 after a clean stop. Raises `DaemonError` if it cannot start."""
        try:
            self.http.start()
        except (OSError, ValueError) as exc:
            self.journal.close()
            self.stopper.close()
            raise DaemonError(_listen_error(self.options.listen, exc)) from None
        self.stopper.install()
        try:
            log.info("serving health, readiness, metrics and status", address=self.http.address)
            first = self.store.reload()
            assert first is not None  # only a `stable` reload waits
            self._apply_specs(first)
            self.board.mark_specs_loaded()
            self.watcher.start()
            while not self.stopper.requested:
                self.heartbeat.beat()
                if self.reload_event.is_set():
                    self.reload_event.clear()
                    snapshot = self.store.reload(stable=True)
                    if snapshot is None:  # a file is still being written: read again at the next tick
                        self.reload_event.set()
                    else:
                        self._apply_specs(snapshot)
                self._refresh_status()
                self.stopper.wait(0.5)
        finally:
            self.shutdown()
            if self.stopper.signals:  # the process is exiting: a signal storm must not turn exit 0 into -15
                self.stopper.ignore_further()
            else:
                self.stopper.uninstall()
            self.stopper.close()
        return 0

    def shutdown(self, budget: float = SHUTDOWN_BUDGET) -> None:
        """Stop everything within `budget` seconds; threads still blocked after that are abandoned."""
        started = time.monotonic()
        deadline = started + budget
        log.info("stopping", signals=self.stopper.signals or None)
        for loop in self.loops.values():
            loop.request_stop()
        self.watcher.stop(timeout=0.3)
        for loop in self.loops.values():
            loop.join(max(0.0, deadline - 0.4 - time.monotonic()))  # keep ~0.4 s for the port and the journal
        self.abandoned = [name for loop in self.loops.values() for name in loop.alive_threads()]
        if self.abandoned:
            log.warning("abandoning threads blocked in vSphere calls", threads=self.abandoned)
        if self.stopper.signals > 1:
            log.info("signal received again while stopping: already stopping", signals=self.stopper.signals)
        self.http.stop(timeout=0.2)
        self.journal.checkpoint()
        self.journal.close()
        log.info("stopped", seconds=round(time.monotonic() - started, 2))

    def stop(self) -> None:
        """Ask `run()` to return (from any thread)."""
        self.stopper.request()

    def _record(self, events: list[ev.Event]) -> None:
        """Journal events the supervisor itself sees (specs, waivers, policies that match nothing)."""
        if not events:
            return
        try:
            self.journal.record_many(events)
            for event in events:
                self.metrics.event(event.type, event.reason)
        except JournalError as exc:
            log.error("the journal cannot be written", error=str(exc))
            self.metrics.journal_write_failure()
            self.board.set_journal_error(str(exc))

    # -- specs ------------------------------------------------------------------------------------------------
    def _apply_specs(self, snapshot: SpecSnapshot) -> None:
        log.info("specs loaded", generation=snapshot.generation, documents=len(snapshot.documents),
                 invalid=len(snapshot.errors), kept=len(snapshot.kept), revision=snapshot.revision)
        self._record([spec_event(i) for i in snapshot.errors] + [expired_event(w) for w in snapshot.specs.expired])
        for issue in snapshot.errors:
            log.warning("spec error", issue=str(issue))
        invalid = len({(i.kind, i.name, i.file) for i in snapshot.errors})
        self.metrics.set_spec_documents(len(snapshot.documents), invalid, len(snapshot.kept))
        self.metrics.set_waivers_active(len(snapshot.specs.waivers))
        self.board.set_spec_revision(snapshot.revision)
        policies = [d for d in snapshot.documents if d.kind in POLICY_KINDS]
        for doc in policies:
            spec = doc.model.spec.model_dump(mode="json", by_alias=True)
            self.board.observe_spec(doc.name, kind=doc.kind, digest=document_digest(spec), revision=snapshot.revision,
                                    enforcement=spec.get("enforcement", "Enforce"))
        self.board.retain_policies(d.name for d in policies)
        settings, errors = connection_settings(snapshot.specs, self.options.cli, self.environ)
        for error in errors:
            log.error("cannot use a vCenter connection", error=error)
        wanted = {s.name: s for s in settings if in_shard(s.name, self.options.shard, self._pinned(snapshot, s.name))}
        for name in [n for n in self.loops if n not in wanted or wanted[n] != self.settings.get(n)]:
            log.info("stopping vCenter loop", vcenter=name)
            self.loops.pop(name).stop(timeout=SHUTDOWN_BUDGET)
            self.liveness.unregister(_loop_beat(name))
        for name, setting in wanted.items():
            if name not in self.loops:
                log.info("starting vCenter loop", vcenter=name, server=setting.address)
                self.liveness.register(_loop_beat(name), self.options.stuck_after)
                self.loops[name] = VCenterLoop(setting, self.store, self.journal, self.metrics, self.board,
                                               self.liveness.beater(_loop_beat(name)), self.options.loop)
                self.loops[name].start()
        self.settings = dict(wanted)
        self.board.retain_vcenters(wanted)
        self.board.set_loops_running(all(loop.running for loop in self.loops.values()))

    def _pinned(self, snapshot: SpecSnapshot, name: str) -> int | None:
        """`spec.shard` of the VCenter document `name` (None: placed by hashing); warns when it exceeds --shard N."""
        doc = snapshot.specs.vcenters.get(name)
        spec = doc.model.spec if doc is not None else None
        pinned = spec.shard if isinstance(spec, VCenterSpec) else None
        shard = self.options.shard
        if pinned is not None and shard is not None and pinned >= shard[1]:
            log.warning("spec.shard is not below the shard count: using it modulo the count", vcenter=name,
                        shard=pinned, shards=shard[1], owner=pinned % shard[1])
        return pinned

    # -- status ------------------------------------------------------------------------------------------------
    def _refresh_status(self) -> None:
        loops = list(self.loops.values())
        self.board.set_loops_running(all(loop.running for loop in loops))
        for loop in loops:
            self.board.set_vcenter_first_pass(loop.name, loop.first_pass_done.is_set())
        if all(loop.first_pass_done.is_set() for loop in loops) and not self.board.first_pass_done:  # none: done
            self.board.mark_first_pass_done()
            log.info("first pass done", vcenters=len(loops))
        snapshot = self.store.current
        counts: dict[str, Counts] = {}
        drift_by: dict[tuple[str, str], int] = {}
        for loop in loops:
            for result in loop.snapshot_results().values():
                for name in result.policies:
                    counts.setdefault(name, _zero())["objects"] += 1
                for change in result.changes:
                    for name in (p.strip() for p in change.policy.split(",") if p.strip()):
                        c = counts.setdefault(name, _zero())
                        _count(c, change)
                        if change.counts_as_drift:
                            drift_by[(name, change.controller)] = drift_by.get((name, change.controller), 0) + 1
            for name, n in loop.flapping_by_policy().items():
                counts.setdefault(name, _zero())["flapping"] += n  # held back by the detector, even if in sync now
        self.metrics.replace_drift(drift_by)
        # policies of this shard's vCenters that match nothing, once the first pass has seen every object
        owned = {p.name for name in self.loops for p in policies_for(snapshot.specs, name)}
        settled = self.board.first_pass_done
        unmatched_events: list[ev.Event] = []
        for policy in snapshot.specs.policies:
            c = counts.get(policy.name, _zero())
            unmatched = settled and policy.name in owned and not policy.suspended and c["objects"] == 0
            key = (policy.name, tuple(sorted(c.items())), policy.enforce, policy.suspended, unmatched)
            if self._last_counts.get(policy.name) != key:  # only real changes move lastReconcile
                self._last_counts[policy.name] = key
                self.board.record_reconcile(policy.name, kind=policy.kind, audit=not policy.enforce,
                                            suspended=policy.suspended, unmatched=unmatched, **c)
                if unmatched:
                    log.warning("policy matches no object", policy=policy.name, source=policy.source)
                    unmatched_events.append(unmatched_event(policy))
        self._record(unmatched_events)


def _loop_beat(name: str) -> str:
    return f"vCenter loop {name!r}"


def _listen_error(listen: str, exc: OSError | ValueError) -> str:
    if isinstance(exc, ValueError):
        return f"--listen: {exc}"
    if exc.errno == errno.EADDRINUSE:
        why = "address already in use (another vsr run? choose a free port with --listen)"
    elif exc.errno == errno.EACCES:
        why = "permission denied (ports below 1024 need privileges)"
    else:
        why = exc.strerror or str(exc)
    return f"--listen {listen}: cannot listen: {why}"


class Counts(TypedDict):
    """One policy's figures for `StatusBoard.record_reconcile`."""

    objects: int
    drifted: int
    waived: int
    unsupported: int
    errors: int
    flapping: int


def _zero() -> Counts:
    return {"objects": 0, "drifted": 0, "waived": 0, "unsupported": 0, "errors": 0, "flapping": 0}


def _count(c: Counts, change: Change) -> None:
    if change.reason is Skip.WAIVED:
        c["waived"] += 1
    elif change.reason is Skip.UNSUPPORTED:
        c["unsupported"] += 1
    elif change.reason is Skip.FLAPPING:
        pass  # counted from the flap detector, which knows fields that are in sync right now too
    elif change.outcome is Outcome.FAILED:
        c["errors"] += 1
    elif change.counts_as_drift:
        c["drifted"] += 1


def run(paths: Iterable[str], **kw: Any) -> int:
    try:
        daemon = Daemon(DaemonOptions(paths=tuple(paths), **kw))
    except JournalError as exc:
        print(f"vsr run: {exc}", file=sys.stderr)
        return 1
    return daemon.run()
