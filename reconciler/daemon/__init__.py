"""Building blocks of the daemon (`vsr run`): work queue, spec watcher, metrics, status board, HTTP endpoints.

The building blocks have one job each and no dependency on the engine; `vcenter_loop` (one loop per vCenter),
`supervisor` (`vsr run`) and `specstore` wire them to the engine. The engine never imports this package.
See docs/daemon.md.
"""

from reconciler.daemon.flaps import FlapDetector
from reconciler.daemon.httpserver import HealthServer, parse_listen
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.specwatch import SpecWatcher
from reconciler.daemon.status import Heartbeat, StatusBoard, derive_conditions, document_digest
from reconciler.daemon.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    WorkerPool,
    WorkQueue,
    default_controller_rate_limiter,
    run_workers,
)
from reconciler.gitrev import git_revision

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
