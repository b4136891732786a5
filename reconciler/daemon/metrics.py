"""Prometheus metrics of the daemon, on a registry of its own (never the process-global one).

Names follow controller-runtime (`controller_runtime_reconcile_*`, `workqueue_*`) so existing dashboards and
alerts work; `vsr_*` metrics carry what is specific to vsr (drift, events, waivers, connections, specs).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from reconciler.daemon.workqueue import WorkQueue

RESULTS = ("success", "error", "requeue")
SPEC_STATES = ("valid", "invalid", "kept")

# controller-runtime's reconcile_time_seconds buckets
RECONCILE_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0,
    1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0, 25.0, 30.0,
    40.0, 50.0, 60.0,
)  # fmt: skip
# client-go's workqueue buckets: ExponentialBuckets(10e-9, 10, 10) -> 10 ns .. 10 s
QUEUE_BUCKETS = tuple(1e-8 * 10**i for i in range(10))


class _QueueCollector(Collector):
    """Scrape-time gauges read from live queues (client-go computes these on a timer; a scrape is enough here)."""

    def __init__(self) -> None:
        # queues of any key type
        self._queues: weakref.WeakValueDictionary[str, WorkQueue[Any]] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def add(self, queue: WorkQueue[Any]) -> None:
        with self._lock:
            self._queues[queue.name] = queue

    def describe(self) -> list[GaugeMetricFamily]:
        return list(self._families())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        return self._families()

    def _families(self) -> Iterator[GaugeMetricFamily]:
        unfinished = GaugeMetricFamily(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has been done that is in progress (large values: stuck workers).",
            labels=["name"],
        )
        longest = GaugeMetricFamily(
            "workqueue_longest_running_processor_seconds",
            "How many seconds the longest-running item in processing has been running.",
            labels=["name"],
        )
        with self._lock:
            queues = sorted(self._queues.items())
        for name, queue in queues:
            unfinished.add_metric([name], queue.unfinished_work_seconds())
            longest.add_metric([name], queue.longest_running_processor_seconds())
        yield unfinished
        yield longest


class Metrics:
    """All daemon metrics; the loop calls the methods, `/metrics` serves `exposition()`.

    A `Metrics` is also the `QueueMetrics` hook of `WorkQueue` (pass `metrics=` to the queue)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.reconcile_total = Counter(
            "controller_runtime_reconcile_total",
            "Total number of reconciliations per controller and result (success, error, requeue).",
            ["controller", "result"], registry=r,
        )  # fmt: skip
        self.reconcile_time = Histogram(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller.",
            ["controller"], buckets=RECONCILE_BUCKETS, registry=r,
        )  # fmt: skip
        self.reconcile_errors = Counter(
            "controller_runtime_reconcile_errors_total",
            "Total number of reconciliation errors per controller.",
            ["controller"], registry=r,
        )  # fmt: skip
        self.queue_depth_g = Gauge("workqueue_depth", "Current depth of the work queue.", ["name"], registry=r)
        self.queue_adds = Counter("workqueue_adds_total", "Total number of adds handled by the work queue.",
                                  ["name"], registry=r)  # fmt: skip
        self.queue_retries = Counter("workqueue_retries_total", "Total number of retries handled by the work queue.",
                                     ["name"], registry=r)  # fmt: skip
        self.queue_duration = Histogram(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in the work queue before being requested.",
            ["name"], buckets=QUEUE_BUCKETS, registry=r,
        )  # fmt: skip
        self.work_duration = Histogram(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from the work queue takes.",
            ["name"], buckets=QUEUE_BUCKETS, registry=r,
        )  # fmt: skip
        self.drift_fields = Gauge(
            "vsr_drift_fields",
            "Fields that differ from the spec at the last reconcile, per policy and controller (waived excluded).",
            ["policy", "controller"], registry=r,
        )  # fmt: skip
        self.events_total = Counter("vsr_events_total", "Events recorded, by type and reason.",
                                    ["type", "reason"], registry=r)  # fmt: skip
        self.waivers_active = Gauge("vsr_waivers_active", "Waivers currently in force (not expired).", registry=r)
        self.vcenter_connected = Gauge("vsr_vcenter_connected", "1 while the vCenter session is up, else 0.",
                                       ["vcenter"], registry=r)  # fmt: skip
        self.last_reconcile = Gauge(
            "vsr_last_reconcile_timestamp_seconds",
            "Unix time of the last completed reconcile pass per vCenter.",
            ["vcenter"], registry=r,
        )  # fmt: skip
        self.spec_documents = Gauge(
            "vsr_spec_documents",
            "Spec documents by state: valid, invalid (rejected), kept (invalid, last valid version in use).",
            ["state"], registry=r,
        )  # fmt: skip
        for state in SPEC_STATES:
            self.spec_documents.labels(state).set(0)
        self.journal_write_failures = Counter(
            "vsr_journal_write_failures_total",
            "Journal writes that failed (read-only, full disk...); while they fail, nothing is written to vSphere.",
            registry=r,
        )  # fmt: skip
        self._drift_labels: set[tuple[str, str]] = set()
        self._drift_lock = threading.Lock()
        self._queues = _QueueCollector()
        r.register(self._queues)

    # -- reconcile ------------------------------------------------------------------------------------------

    def init_controllers(self, controllers: Iterable[str]) -> None:
        """Create zero-valued series for each controller (as controller-runtime does at start)."""
        for c in controllers:
            for result in RESULTS:
                self.reconcile_total.labels(c, result)
            self.reconcile_errors.labels(c)
            self.reconcile_time.labels(c)

    def observe_reconcile(self, controller: str, result: str, seconds: float) -> None:
        """Count one reconcile of `controller` with `result` (success|error|requeue) taking `seconds`."""
        if result not in RESULTS:
            raise ValueError(f"result must be one of {RESULTS}, not {result!r}")
        self.reconcile_total.labels(controller, result).inc()
        self.reconcile_time.labels(controller).observe(max(0.0, seconds))
        if result == "error":
            self.reconcile_errors.labels(controller).inc()

    # -- drift, events, waivers, connections, specs ---------------------------------------------------------

    def set_drift(self, policy: str, controller: str, fields: int) -> None:
        with self._drift_lock:
            self.drift_fields.labels(policy, controller).set(fields)
            self._drift_labels.add((policy, controller))

    def replace_drift(self, drift: Mapping[tuple[str, str], int]) -> None:
        """Set every drift gauge from `{(policy, controller): fields}`; series not in `drift` are removed."""
        with self._drift_lock:
            for labels in self._drift_labels - set(drift):
                self.drift_fields.remove(*labels)
            for (policy, controller), n in drift.items():
                self.drift_fields.labels(policy, controller).set(n)
            self._drift_labels = set(drift)

    def event(self, type_: str, reason: str) -> None:
        """Count one recorded event (call it for every event the journal records)."""
        self.events_total.labels(type_, reason).inc()

    def journal_write_failure(self) -> None:
        self.journal_write_failures.inc()

    def set_waivers_active(self, n: int) -> None:
        self.waivers_active.set(n)

    def set_vcenter_connected(self, vcenter: str, connected: bool) -> None:
        self.vcenter_connected.labels(vcenter).set(1 if connected else 0)

    def set_last_reconcile(self, vcenter: str, timestamp: float | None = None) -> None:
        self.last_reconcile.labels(vcenter).set(time.time() if timestamp is None else timestamp)

    def set_spec_documents(self, valid: int, invalid: int, kept: int) -> None:
        self.spec_documents.labels("valid").set(valid)
        self.spec_documents.labels("invalid").set(invalid)
        self.spec_documents.labels("kept").set(kept)

    # -- WorkQueue hooks (QueueMetrics) ---------------------------------------------------------------------

    def watch_queue(self, queue: WorkQueue[Any]) -> None:
        """Expose `queue`'s unfinished-work gauges (called by `WorkQueue(metrics=...)`)."""
        self._queues.add(queue)

    def queue_add(self, name: str) -> None:
        self.queue_adds.labels(name).inc()

    def queue_depth(self, name: str, depth: int) -> None:
        self.queue_depth_g.labels(name).set(depth)

    def queue_retry(self, name: str) -> None:
        self.queue_retries.labels(name).inc()

    def queue_latency(self, name: str, seconds: float) -> None:
        self.queue_duration.labels(name).observe(seconds)

    def queue_work_duration(self, name: str, seconds: float) -> None:
        self.work_duration.labels(name).observe(seconds)

    # -- exposition -----------------------------------------------------------------------------------------

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The registry in the text format the `Accept` header asks for: (body, content type)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
