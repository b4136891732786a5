"""A thread-safe work queue with rate limiting, modelled on client-go's `workqueue`.

Semantics (as client-go):

* **dedup** — a key that is already queued is not queued twice;
* **dirty/processing** — a key added while a worker processes it is queued again once, after `done(key)`,
  so one key is never processed by two workers at the same time;
* **delays** — `add_after` parks a key until its time comes (the earliest wins when parked twice);
* **rate limiting** — `add_rate_limited` asks the rate limiter how long to wait: per-key exponential backoff
  (5 ms doubling to a 1000 s cap) combined by max() with a global token bucket (10 qps, burst 100);
  `forget` resets the key's backoff after a success.

Time comes from an injectable clock (seconds, monotonic) so tests need no sleeping; blocking waits use real time.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import structlog

log = structlog.get_logger(__name__)

Clock = Callable[[], float]
Key = Hashable
K = TypeVar("K", bound=Hashable)  # one queue's key type (the daemon's: moids)


class RateLimiter(Protocol):
    """How long a key should wait before it is retried (client-go's `RateLimiter`)."""

    def when(self, key: Key) -> float: ...

    def forget(self, key: Key) -> None: ...

    def num_requeues(self, key: Key) -> int: ...


class QueueMetrics(Protocol):
    """Hooks a queue calls; implemented by `reconciler.daemon.metrics.Metrics`."""

    def queue_add(self, name: str) -> None: ...

    def queue_depth(self, name: str, depth: int) -> None: ...

    def queue_retry(self, name: str) -> None: ...

    def queue_latency(self, name: str, seconds: float) -> None: ...

    def queue_work_duration(self, name: str, seconds: float) -> None: ...


class ItemExponentialFailureRateLimiter:
    """Per-key backoff: `base * 2**failures`, capped (client-go's ItemExponentialFailureRateLimiter)."""

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[Key, int] = {}
        self._lock = threading.Lock()

    def when(self, key: Key) -> float:
        with self._lock:
            exp = self._failures.get(key, 0)
            self._failures[key] = exp + 1
        if exp >= 64:  # 2**64 * base overflows any sensible cap
            return self.cap
        return min(self.base * float(2**exp), self.cap)

    def forget(self, key: Key) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def num_requeues(self, key: Key) -> int:
        with self._lock:
            return self._failures.get(key, 0)


class BucketRateLimiter:
    """A global token bucket (`qps` tokens per second, at most `burst` saved up).

    Like golang.org/x/time/rate's `Reserve`: every call takes a token, possibly in the future, and returns how
    long the caller must wait for it. Keys share the bucket; there is nothing to forget."""

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Clock = time.monotonic) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError("qps must be > 0 and burst >= 1")
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def when(self, key: Key) -> float:
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._last)
            self._last = now
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.qps)
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, key: Key) -> None:
        return None

    def num_requeues(self, key: Key) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest wait of several limiters (client-go's MaxOfRateLimiter)."""

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise ValueError("at least one rate limiter")
        self.limiters = limiters

    def when(self, key: Key) -> float:
        return max(limiter.when(key) for limiter in self.limiters)

    def forget(self, key: Key) -> None:
        for limiter in self.limiters:
            limiter.forget(key)

    def num_requeues(self, key: Key) -> int:
        return max(limiter.num_requeues(key) for limiter in self.limiters)


def default_controller_rate_limiter(
    clock: Clock = time.monotonic,
    *,
    base: float = 0.005,
    cap: float = 1000.0,
    qps: float = 10.0,
    burst: int = 100,
) -> MaxOfRateLimiter:
    """client-go's DefaultControllerRateLimiter: per-key 5 ms..1000 s backoff, max'ed with a 10 qps/100 bucket."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(base, cap), BucketRateLimiter(qps, burst, clock)
    )


class WorkQueue(Generic[K]):
    """Deduplicating, delaying, rate-limited FIFO of hashable keys. Thread-safe.

    `len(queue)` is the number of keys ready to be handed out (parked keys are in `num_waiting()`)."""

    def __init__(
        self,
        name: str = "default",
        rate_limiter: RateLimiter | None = None,
        *,
        clock: Clock = time.monotonic,
        metrics: QueueMetrics | None = None,
    ) -> None:
        self.name = name
        self._clock = clock
        self._limiter: RateLimiter = rate_limiter or default_controller_rate_limiter(clock)
        self._metrics = metrics
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._added_at: dict[K, float] = {}
        self._started_at: dict[K, float] = {}
        self._waiting: dict[K, float] = {}  # key -> ready time (earliest wins)
        self._heap: list[tuple[float, int, K]] = []  # lazy: stale entries skipped
        self._seq = itertools.count()
        self._shutting_down = False
        watch = getattr(metrics, "watch_queue", None)
        if callable(watch):
            watch(self)  # scrape-time gauges: unfinished work, longest running processor

    # -- adding ---------------------------------------------------------------------------------------------

    def add(self, key: K) -> None:
        """Queue `key` unless it is already queued; a key in processing is queued again after `done`."""
        with self._cond:
            self._add_locked(key)

    def _add_locked(self, key: K) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        self._added_at.setdefault(key, self._clock())
        if self._metrics:
            self._metrics.queue_add(self.name)
        if key in self._processing:
            return
        self._push_locked(key)

    def _push_locked(self, key: K) -> None:
        self._queue.append(key)
        if self._metrics:
            self._metrics.queue_depth(self.name, len(self._queue))
        self._cond.notify()

    def add_after(self, key: K, delay: float) -> None:
        """Queue `key` once `delay` seconds have passed on the queue's clock (at once if `delay <= 0`)."""
        with self._cond:
            if self._shutting_down:
                return
            if delay <= 0:
                self._add_locked(key)
                return
            ready = self._clock() + delay
            current = self._waiting.get(key)
            if current is not None and current <= ready:
                return
            self._waiting[key] = ready
            heapq.heappush(self._heap, (ready, next(self._seq), key))
            self._cond.notify_all()  # a getter may need to wake earlier than it planned

    def add_rate_limited(self, key: K) -> None:
        """Queue `key` after the rate limiter's delay (a retry: counts in `workqueue_retries_total`)."""
        if self._metrics and not self._shutting_down:
            self._metrics.queue_retry(self.name)
        self.add_after(key, self._limiter.when(key))

    def forget(self, key: K) -> None:
        """Reset `key`'s backoff (call after it was processed successfully)."""
        self._limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        """How many times `key` was rate-limited since it was last forgotten."""
        return self._limiter.num_requeues(key)

    # -- taking ---------------------------------------------------------------------------------------------

    def _promote_locked(self) -> float | None:
        """Move parked keys whose time has come into the queue; return seconds until the next one."""
        now = self._clock()
        while self._heap:
            ready, _, key = self._heap[0]
            if self._waiting.get(key) != ready:
                heapq.heappop(self._heap)  # superseded by an earlier add_after
                continue
            if ready > now:
                return ready - now
            heapq.heappop(self._heap)
            del self._waiting[key]
            self._add_locked(key)
        return None

    def get(self, timeout: float | None = None) -> K | None:
        """Block until a key is ready and return it (it is then in processing until `done`).

        Returns None on timeout and, at once, after `shutdown()`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._shutting_down:
                    return None
                next_ready = self._promote_locked()
                if self._queue:
                    key = self._queue.popleft()
                    self._processing.add(key)
                    self._dirty.discard(key)
                    now = self._clock()
                    added = self._added_at.pop(key, now)
                    self._started_at[key] = now
                    if self._metrics:
                        self._metrics.queue_depth(self.name, len(self._queue))
                        self._metrics.queue_latency(self.name, max(0.0, now - added))
                    return key
                wait = next_ready
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    wait = remaining if wait is None else min(wait, remaining)
                self._cond.wait(wait)

    def done(self, key: K) -> None:
        """Mark `key` processed; if it was added meanwhile, queue it again."""
        with self._cond:
            self._processing.discard(key)
            started = self._started_at.pop(key, None)
            if self._metrics and started is not None:
                self._metrics.queue_work_duration(self.name, max(0.0, self._clock() - started))
            if key in self._dirty and not self._shutting_down:
                self._push_locked(key)

    # -- state ----------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)

    def len(self) -> int:
        """Depth: keys ready to be handed out (same as `len(queue)`)."""
        return len(self)

    def num_waiting(self) -> int:
        """Keys parked by `add_after`/`add_rate_limited` and not yet due."""
        with self._cond:
            return len(self._waiting)

    def processing(self) -> int:
        """Keys handed out and not yet `done`."""
        with self._cond:
            return len(self._processing)

    def unfinished_work_seconds(self) -> float:
        """Sum of how long every key in processing has been in processing (client-go's unfinished work)."""
        with self._cond:
            now = self._clock()
            return sum(max(0.0, now - t) for t in self._started_at.values())

    def longest_running_processor_seconds(self) -> float:
        """How long the longest-running key in processing has been at it (0 when idle): a stuck-worker signal."""
        with self._cond:
            if not self._started_at:
                return 0.0
            return max(0.0, self._clock() - min(self._started_at.values()))

    def shutdown(self) -> None:
        """Stop accepting keys and wake every getter; `get` returns None from now on."""
        with self._cond:
            self._shutting_down = True
            self._cond.notify_all()

    @property
    def shutting_down(self) -> bool:
        with self._cond:
            return self._shutting_down


@dataclass
class WorkerPool(Generic[K]):
    """Threads started by `run_workers`."""

    queue: WorkQueue[K]
    stop_event: threading.Event
    threads: list[threading.Thread] = field(default_factory=list)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the workers to exit (they do once `stop_event` is set); True if all did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self.threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        return not any(t.is_alive() for t in self.threads)

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Set the stop event and join: in-flight keys finish, queued keys are left."""
        self.stop_event.set()
        return self.join(timeout)

    @property
    def alive(self) -> int:
        return sum(t.is_alive() for t in self.threads)


def _worker(queue: WorkQueue[K], handler: Callable[[K], bool | None], stop: threading.Event, poll: float) -> None:
    while not stop.is_set():
        key = queue.get(timeout=poll)
        if key is None:
            if queue.shutting_down:
                return
            continue
        try:
            ok = handler(key)
        except Exception:  # a handler bug must not kill the worker
            log.exception("reconcile failed", queue=queue.name, key=repr(key))
            ok = False
        try:
            if ok is False:
                queue.add_rate_limited(key)
            else:
                queue.forget(key)
        finally:
            queue.done(key)


def run_workers(
    queue: WorkQueue[K],
    n: int,
    handler: Callable[[K], bool | None],
    stop_event: threading.Event,
    *,
    poll: float = 0.2,
    name: str | None = None,
) -> WorkerPool[K]:
    """Start `n` daemon threads that take keys from `queue` and call `handler(key)`.

    `handler` returns True (or None) on success → `forget(key)`; returns False or raises → `add_rate_limited(key)`;
    `done(key)` always follows. Workers exit within `poll` seconds of `stop_event` being set (after finishing the
    key in hand) or at once when the queue shuts down. `WorkerPool.stop()` sets the event and joins."""
    if n < 1:
        raise ValueError("n must be >= 1")
    pool = WorkerPool(queue, stop_event)
    for i in range(n):
        thread = threading.Thread(
            target=_worker,
            args=(queue, handler, stop_event, poll),
            name=f"{name or queue.name}-worker-{i}",
            daemon=True,
        )
        pool.threads.append(thread)
        thread.start()
    return pool
