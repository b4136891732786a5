"""Building blocks of the daemon (`vsr run`): work queue, spec watcher, metrics, status board, HTTP endpoints.

Each module has one job and no dependency on the engine; the engine's loop wires them together.
See docs/daemon.md.
"""

from reconciler.daemon.httpserver import HealthServer, parse_listen
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.specwatch import SpecWatcher, git_revision
from reconciler.daemon.status import Heartbeat, StatusBoard, derive_conditions, document_digest
from reconciler.daemon.workqueue import (
    BucketRateLimiter,
    FlapDetector,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    WorkerPool,
    WorkQueue,
    default_controller_rate_limiter,
    run_workers,
)

__all__ = [
    "BucketRateLimiter",
    "FlapDetector",
    "HealthServer",
    "Heartbeat",
    "ItemExponentialFailureRateLimiter",
    "MaxOfRateLimiter",
    "Metrics",
    "RateLimiter",
    "SpecWatcher",
    "StatusBoard",
    "WorkQueue",
    "WorkerPool",
    "default_controller_rate_limiter",
    "derive_conditions",
    "document_digest",
    "git_revision",
    "parse_listen",
    "run_workers",
]
