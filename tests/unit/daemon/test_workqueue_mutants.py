"""Work queue details the mutation check (scripts/mutation.py) showed untested: the limiters at their edges,
`add_after` with no delay, processing-time gauges, bounded joins, idle workers that keep polling, the log line
of a failing handler. Real threads, bounded waits."""

from __future__ import annotations

import threading
import time

from structlog.testing import capture_logs

from reconciler.daemon.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    WorkQueue,
    run_workers,
)

A = ("lab", "host-1")


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_exponential_limiter_returns_the_cap_from_64_failures_on():
    limiter = ItemExponentialFailureRateLimiter(base=1.0, cap=1e30)
    waits = [limiter.when(A) for _ in range(66)]
    assert waits[63] == 2.0 ** 63
    assert waits[64] == 1e30 and waits[65] == 1e30


def test_bucket_limiter_a_fraction_of_a_token_left_is_no_wait():
    clock = FakeClock()
    bucket = BucketRateLimiter(qps=1.0, burst=2, clock=clock)
    assert bucket.when(A) == 0.0          # 1 token left
    clock.t += 0.5
    assert bucket.when(A) == 0.0          # 1.5 - 1 = 0.5 left: still no wait
    assert bucket.when(A) == 0.5          # -0.5: half a second at 1 qps


def test_add_after_without_delay_queues_that_key_at_once():
    q: WorkQueue[tuple[str, str]] = WorkQueue(clock=FakeClock())
    q.add_after(A, 0)
    q.add_after(("lab", "host-2"), -1)
    assert q.get(timeout=0) == A and q.get(timeout=0) == ("lab", "host-2")


def test_processing_gauges_start_at_zero():
    clock = FakeClock()
    q: WorkQueue[tuple[str, str]] = WorkQueue(clock=clock)
    q.add(A)
    assert q.get(timeout=0) == A
    assert q.unfinished_work_seconds() == 0.0 and q.longest_running_processor_seconds() == 0.0
    clock.t += 0.25
    assert q.unfinished_work_seconds() == 0.25 and q.longest_running_processor_seconds() == 0.25


def test_join_and_stop_give_up_at_their_timeout():
    release = threading.Event()
    started = threading.Event()

    def handler(key):  # type: ignore[no-untyped-def]
        started.set()
        release.wait(1.5)

    q: WorkQueue[tuple[str, str]] = WorkQueue()
    pool = run_workers(q, 1, handler, threading.Event(), poll=0.05)
    try:
        q.add(A)
        assert started.wait(2)
        t0 = time.monotonic()
        assert pool.join(timeout=0.2) is False
        assert pool.stop(timeout=0.2) is False
        assert time.monotonic() - t0 < 0.9, "two 0.2 s timeouts, not a wait for the handler"
    finally:
        release.set()
    assert pool.join(timeout=5) is True


def test_stop_sets_the_event_and_the_idle_workers_exit():
    q: WorkQueue[tuple[str, str]] = WorkQueue()
    stop = threading.Event()
    pool = run_workers(q, 2, lambda key: True, stop, poll=0.05)
    assert pool.stop(timeout=5) is True
    assert stop.is_set() and pool.alive == 0


def test_an_idle_worker_keeps_polling_until_work_arrives():
    q: WorkQueue[tuple[str, str]] = WorkQueue()
    seen = threading.Event()
    pool = run_workers(q, 1, lambda key: seen.set(), threading.Event(), poll=0.02)
    try:
        time.sleep(0.15)  # several empty polls
        assert pool.alive == 1
        q.add(A)
        assert seen.wait(2)
    finally:
        pool.stop(timeout=5)


def test_a_failing_handler_is_logged_with_its_queue_and_key():
    handled = threading.Event()

    def handler(key):  # type: ignore[no-untyped-def]
        handled.set()
        raise RuntimeError("boom")

    q: WorkQueue[tuple[str, str]] = WorkQueue("hosts")
    with capture_logs() as logs:
        pool = run_workers(q, 1, handler, threading.Event(), poll=0.02)
        try:
            q.add(A)
            assert handled.wait(2)
            deadline = time.monotonic() + 2
            while not logs and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            pool.stop(timeout=5)
            q.shutdown()
    failed = [e for e in logs if e.get("event") == "reconcile failed"]
    assert failed and failed[0]["queue"] == "hosts" and failed[0]["key"] == repr(A)
    assert failed[0]["log_level"] == "error"


def test_join_without_a_timeout_waits_for_the_workers_to_exit():
    q: WorkQueue[tuple[str, str]] = WorkQueue()
    stop = threading.Event()
    pool = run_workers(q, 2, lambda key: True, stop, poll=0.02)
    stop.set()
    assert pool.join() is True and pool.alive == 0
