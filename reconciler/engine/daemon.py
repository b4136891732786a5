"""`vsr run`: the supervisor. Loads the specs (last known good), starts one `VCenterLoop` per vCenter (of this
shard), watches the spec paths, serves health/readiness/metrics/status, and stops cleanly on SIGTERM."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from reconciler.daemon.httpserver import HealthServer
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.specwatch import SpecWatcher
from reconciler.daemon.status import Heartbeat, StatusBoard, document_digest
from reconciler.engine.runner import CliConnection, _expired_event, _spec_event, connection_settings
from reconciler.engine.specstore import SpecSnapshot, SpecStore
from reconciler.engine.types import Outcome, Skip
from reconciler.engine.vcenter_loop import LoopOptions, VCenterLoop
from reconciler.events.journal import Journal
from reconciler.vsphere.settings import ConnectionSettings

log = structlog.get_logger("vsr.daemon")


def in_shard(name: str, shard: tuple[int, int] | None) -> bool:
    """Stable assignment of vCenters to shards: sha256 of the VCenter document name modulo the shard count."""
    if shard is None:
        return True
    index, count = shard
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % count == index


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


class Daemon:
    def __init__(self, options: DaemonOptions, environ: Mapping[str, str] = os.environ):
        self.options = options
        self.environ = environ
        self.store = SpecStore(options.paths)
        self.journal = Journal(options.journal)
        self.metrics = Metrics()
        self.board = StatusBoard()
        self.heartbeat = Heartbeat()
        self.loops: dict[str, VCenterLoop] = {}
        self.settings: dict[str, ConnectionSettings] = {}
        self._last_counts: dict[str, Any] = {}
        self.stop_event = threading.Event()
        self.reload_event = threading.Event()
        self.http = HealthServer(options.listen, self.board, self.metrics, liveness=self.heartbeat.alive)
        self.watcher = SpecWatcher(options.paths, lambda _changed: self.reload_event.set(), options.debounce)

    # -- lifecycle ----------------------------------------------------------------------------------------
    def run(self) -> int:
        self._install_signals()
        self.http.start()
        log.info("serving health, readiness, metrics and status", address=self.http.address)
        first = self.store.reload()
        assert first is not None  # only a `stable` reload waits
        self._apply_specs(first)
        self.watcher.start()
        try:
            while not self.stop_event.is_set():
                self.heartbeat.beat()
                if self.reload_event.is_set():
                    self.reload_event.clear()
                    snapshot = self.store.reload(stable=True)
                    if snapshot is None:  # a file is still being written: read again at the next tick
                        self.reload_event.set()
                    else:
                        self._apply_specs(snapshot)
                self._refresh_status()
                self.stop_event.wait(0.5)
        finally:
            self.shutdown()
        return 0

    def shutdown(self) -> None:
        started = time.monotonic()
        self.watcher.stop()
        for loop in self.loops.values():
            loop.stop_event.set()
            loop.queue.shutdown()
        for loop in self.loops.values():
            loop.stop(timeout=max(0.5, 8.0 - (time.monotonic() - started)))
        self.http.stop()
        self.journal.checkpoint()
        self.journal.close()
        log.info("stopped", seconds=round(time.monotonic() - started, 2))

    def stop(self) -> None:
        self.stop_event.set()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop_event.set())

    # -- specs ------------------------------------------------------------------------------------------------
    def _apply_specs(self, snapshot: SpecSnapshot) -> None:
        events = [_spec_event(i) for i in snapshot.errors] + [_expired_event(w) for w in snapshot.specs.expired]
        if events:
            self.journal.record_many(events)
            for event in events:
                self.metrics.event(event.type, event.reason)
        for issue in snapshot.errors:
            log.warning("spec error", issue=str(issue))
        invalid = len({(i.kind, i.name, i.file) for i in snapshot.errors})
        self.metrics.set_spec_documents(len(snapshot.documents), invalid, len(snapshot.kept))
        self.metrics.set_waivers_active(len(snapshot.specs.waivers))
        self.board.set_spec_revision(snapshot.revision)
        policies = [d for d in snapshot.documents if d.kind in ("HostSecurityPolicy", "VMSecurityPolicy")]
        for doc in policies:
            spec = doc.model.spec.model_dump(mode="json", by_alias=True)
            self.board.observe_spec(doc.name, kind=doc.kind, digest=document_digest(spec), revision=snapshot.revision,
                                    enforcement=spec.get("enforcement", "Enforce"))
        self.board.retain_policies(d.name for d in policies)
        settings, errors = connection_settings(snapshot.specs, self.options.cli, self.environ)
        for error in errors:
            log.error("cannot use a vCenter connection", error=error)
        wanted = {s.name: s for s in settings if in_shard(s.name, self.options.shard)}
        for name in [n for n in self.loops if n not in wanted or wanted[n] != self.settings.get(n)]:
            log.info("stopping vCenter loop", vcenter=name)
            self.loops.pop(name).stop()
        for name, setting in wanted.items():
            if name not in self.loops:
                log.info("starting vCenter loop", vcenter=name, server=setting.address)
                self.loops[name] = VCenterLoop(setting, self.store, self.journal, self.metrics, self.board,
                                               self.heartbeat, self.options.loop)
                self.loops[name].start()
        self.settings = dict(wanted)
        self.board.retain_vcenters(wanted)

    # -- status ------------------------------------------------------------------------------------------------
    def _refresh_status(self) -> None:
        loops = list(self.loops.values())
        if loops and all(loop.first_pass_done.is_set() for loop in loops) and not self.board.first_pass_done:
            self.board.mark_first_pass_done()
            log.info("first pass done", vcenters=len(loops))
        snapshot = self.store.current
        counts: dict[str, dict[str, int]] = {}
        drift_by: dict[tuple[str, str], int] = {}
        for loop in loops:
            for result in loop.snapshot_results().values():
                for policy in result.policies:
                    counts.setdefault(policy, _zero())["objects"] += 1
                for change in result.changes:
                    for policy in (p.strip() for p in change.policy.split(",") if p.strip()):
                        c = counts.setdefault(policy, _zero())
                        _count(c, change)
                        if change.counts_as_drift:
                            drift_by[(policy, change.controller)] = drift_by.get((policy, change.controller), 0) + 1
            for policy, n in loop.flapping_by_policy().items():
                counts.setdefault(policy, _zero())["flapping"] += n  # held back by the detector, even if in sync now
        self.metrics.replace_drift(drift_by)
        for policy in snapshot.specs.policies:
            c = counts.get(policy.name, _zero())
            key = (policy.name, tuple(sorted(c.items())), policy.enforce, policy.suspended)
            if self._last_counts.get(policy.name) != key:  # only real changes move lastReconcile
                self._last_counts[policy.name] = key
                self.board.record_reconcile(policy.name, kind=policy.kind, audit=not policy.enforce,
                                            suspended=policy.suspended, **c)


def _zero() -> dict[str, int]:
    return {"objects": 0, "drifted": 0, "waived": 0, "unsupported": 0, "errors": 0, "flapping": 0}


def _count(c: dict[str, int], change: Any) -> None:
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
    return Daemon(DaemonOptions(paths=tuple(paths), **kw)).run()
