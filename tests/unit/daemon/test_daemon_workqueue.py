"""WorkQueue, rate limiters, FlapDetector and run_workers: real threads, injected clocks, bounded waits."""

from __future__ import annotations

import itertools
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.daemon.flaps import FlapDetector
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    WorkQueue,
    default_controller_rate_limiter,
    run_workers,
)

A = ("lab", "host-1")
B = ("lab", "host-2")


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


# -- dedup, dirty/processing --------------------------------------------------------------------------------


def test_add_dedups_queued_keys_and_keeps_fifo():
    q = WorkQueue()
    for key in (A, B, A, A, B):
        q.add(key)
    assert len(q) == 2 and q.len() == 2
    assert q.get(timeout=0) == A
    assert q.get(timeout=0) == B
    assert q.get(timeout=0) is None


def test_key_added_while_processing_is_requeued_once_after_done():
    q = WorkQueue()
    q.add(A)
    assert q.get(timeout=0) == A
    q.add(A)
    q.add(A)
    assert len(q) == 0, "a key in processing must not be handed to a second worker"
    assert q.get(timeout=0) is None
    q.done(A)
    assert len(q) == 1
    assert q.get(timeout=0) == A
    q.done(A)
    assert len(q) == 0 and q.processing() == 0


def test_done_without_new_add_does_not_requeue():
    q = WorkQueue()
    q.add(A)
    q.get(timeout=0)
    q.done(A)
    assert len(q) == 0


def test_get_blocks_until_add_from_another_thread():
    q = WorkQueue()
    got: list = []
    started = threading.Event()

    def getter():
        started.set()
        got.append(q.get(timeout=10))

    t = threading.Thread(target=getter)
    t.start()
    started.wait(5)
    q.add(A)
    t.join(5)
    assert got == [A]


def test_get_times_out_with_none():
    q = WorkQueue()
    t0 = time.monotonic()
    assert q.get(timeout=0.05) is None
    assert time.monotonic() - t0 < 2


def test_shutdown_wakes_blocked_getters_and_stops_adds():
    q = WorkQueue()
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(q.get())) for _ in range(3)]
    for t in threads:
        t.start()
    q.shutdown()
    for t in threads:
        t.join(5)
        assert not t.is_alive()
    assert results == [None, None, None]
    assert q.shutting_down
    q.add(A)
    assert q.get(timeout=0) is None


# -- delays and rate limiting ---------------------------------------------------------------------------------


def test_add_after_waits_for_the_clock_and_earliest_wins():
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    q.add_after(A, 10)
    q.add_after(A, 5)  # earlier: replaces
    q.add_after(A, 20)  # later: ignored
    assert q.num_waiting() == 1
    assert q.get(timeout=0) is None
    clock.advance(4.9)
    assert q.get(timeout=0) is None
    clock.advance(0.1)
    assert q.get(timeout=0) == A
    assert q.num_waiting() == 0


def test_add_after_with_zero_delay_is_add():
    q = WorkQueue()
    q.add_after(A, 0)
    assert len(q) == 1


def test_delayed_key_already_queued_is_not_doubled():
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    q.add(A)
    q.add_after(A, 1)
    clock.advance(2)
    assert q.get(timeout=0) == A
    assert q.get(timeout=0) is None


def test_blocked_get_wakes_for_a_real_delay():
    q = WorkQueue()
    q.add_after(A, 0.05)
    assert q.get(timeout=5) == A


def test_item_exponential_backoff_doubles_from_5ms_to_1000s_cap():
    rl = ItemExponentialFailureRateLimiter()
    delays = [rl.when(A) for _ in range(25)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert all(b == min(2 * a, 1000.0) for a, b in itertools.pairwise(delays))
    assert delays[-1] == 1000.0
    assert rl.num_requeues(A) == 25
    assert rl.when(B) == 0.005, "backoff is per key"
    rl.forget(A)
    assert rl.num_requeues(A) == 0 and rl.when(A) == 0.005


def test_backoff_never_overflows():
    rl = ItemExponentialFailureRateLimiter()
    for _ in range(2000):
        d = rl.when(A)
    assert d == 1000.0


def test_token_bucket_burst_then_qps():
    clock = FakeClock()
    rl = BucketRateLimiter(qps=10, burst=100, clock=clock)
    assert [rl.when(i) for i in range(100)] == [0.0] * 100
    assert rl.when("x") == pytest.approx(0.1)
    assert rl.when("y") == pytest.approx(0.2)
    clock.advance(1.0)  # 10 tokens back, 2 were owed
    assert [rl.when(i) for i in range(8)] == [0.0] * 8
    assert rl.when("z") == pytest.approx(0.1)


def test_token_bucket_refill_is_capped_at_burst():
    clock = FakeClock()
    rl = BucketRateLimiter(qps=10, burst=5, clock=clock)
    clock.advance(3600)
    assert [rl.when(i) for i in range(5)] == [0.0] * 5
    assert rl.when("over") > 0


def test_default_rate_limiter_is_max_of_backoff_and_bucket():
    clock = FakeClock()
    rl = default_controller_rate_limiter(clock)
    assert isinstance(rl, MaxOfRateLimiter)
    assert rl.when(A) == 0.005  # bucket has tokens: per-key backoff wins
    for i in range(200):  # drain the bucket with other keys
        rl.when(("other", i))
    assert rl.when(B) > 1.0, "an empty bucket outweighs a fresh key's 5 ms"
    assert rl.num_requeues(A) == 1
    rl.forget(A)
    assert rl.num_requeues(A) == 0


def test_add_rate_limited_and_forget_through_the_queue():
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    for _ in range(3):
        q.add_rate_limited(A)
    assert q.num_requeues(A) == 3
    assert q.get(timeout=0) is None
    clock.advance(0.005)
    assert q.get(timeout=0) == A
    q.forget(A)
    assert q.num_requeues(A) == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "get", "done"]), st.integers(0, 3)), max_size=60))
def test_invariants_under_random_operations(ops):
    """No key is ever both queued twice or handed out while in processing."""
    q = WorkQueue()
    processing: set[int] = set()
    for op, key in ops:
        if op == "add":
            q.add(key)
        elif op == "get":
            got = q.get(timeout=0)
            if got is not None:
                assert got not in processing
                processing.add(got)
        elif key in processing:
            q.done(key)
            processing.discard(key)
        assert len(q._queue) == len(set(q._queue))
        assert not set(q._queue) & processing


# -- metrics hook ---------------------------------------------------------------------------------------------


def test_queue_reports_depth_adds_retries_and_durations():
    clock = FakeClock()
    m = Metrics()
    q = WorkQueue("lab", clock=clock, metrics=m)
    q.add(A)
    q.add(A)  # dedup: no second add
    q.add(B)
    v = m.registry.get_sample_value
    assert v("workqueue_adds_total", {"name": "lab"}) == 2
    assert v("workqueue_depth", {"name": "lab"}) == 2
    clock.advance(2.0)
    assert q.get(timeout=0) == A
    assert v("workqueue_depth", {"name": "lab"}) == 1
    assert v("workqueue_queue_duration_seconds_sum", {"name": "lab"}) == pytest.approx(2.0)
    clock.advance(0.5)
    q.done(A)
    assert v("workqueue_work_duration_seconds_sum", {"name": "lab"}) == pytest.approx(0.5)
    q.add_rate_limited(A)
    assert v("workqueue_retries_total", {"name": "lab"}) == 1


# -- flapping -------------------------------------------------------------------------------------------------


def test_flap_detector_trips_at_threshold_within_window():
    clock = FakeClock()
    fd = FlapDetector(threshold=3, window=60, clock=clock)
    f = "services.TSM-SSH.running"
    assert fd.record(A, f) is False
    clock.advance(10)
    assert fd.record(A, f) is False
    assert fd.record(B, f) is False, "other keys are counted apart"
    assert fd.record(A, "lockdown.mode") is False, "other fields are counted apart"
    clock.advance(10)
    assert fd.record(A, f) is True
    assert fd.is_flapping(A, f)
    assert fd.flapping() == [(A, f)]
    assert not fd.is_flapping(B, f)


def test_flap_detector_ignores_remediations_spread_beyond_the_window():
    clock = FakeClock()
    fd = FlapDetector(threshold=3, window=60, clock=clock)
    for _ in range(10):
        assert fd.record(A, "x") is False
        clock.advance(31)  # at most 2 within any 60 s


def test_flapping_clears_after_a_quiet_window_or_reset():
    clock = FakeClock()
    fd = FlapDetector(threshold=2, window=60, clock=clock)
    fd.record(A, "x")
    assert fd.record(A, "x") is True
    clock.advance(59)
    assert fd.is_flapping(A, "x")
    clock.advance(1)
    assert not fd.is_flapping(A, "x")
    assert fd.record(A, "x") is False, "a fresh start after the quiet window"
    assert fd.record(A, "x") is True
    fd.reset(A, "x")
    assert not fd.is_flapping(A, "x")
    assert fd.record(A, "x") is False


def test_flap_detector_forget_drops_every_field_of_a_key():
    fd = FlapDetector(threshold=1, window=60, clock=FakeClock())
    fd.record(A, "x")
    fd.record(A, "y")
    fd.record(B, "x")
    fd.forget(A)
    assert fd.flapping() == [(B, "x")]


# -- workers --------------------------------------------------------------------------------------------------


def test_run_workers_processes_with_concurrency_limit_and_no_overlap_per_key():
    q = WorkQueue()
    stop = threading.Event()
    lock = threading.Lock()
    active: set = set()
    peak = [0]
    seen: list = []
    all_done = threading.Event()
    keys = [("lab", f"vm-{i}") for i in range(40)]

    def handler(key):
        with lock:
            assert key not in active
            active.add(key)
            peak[0] = max(peak[0], len(active))
        time.sleep(0.002)
        with lock:
            active.discard(key)
            seen.append(key)
            if len(set(seen)) == len(keys):
                all_done.set()
        return True

    pool = run_workers(q, 4, handler, stop)
    for key in keys:
        q.add(key)
    assert all_done.wait(10)
    assert pool.stop(timeout=5)
    assert pool.alive == 0
    assert 1 <= peak[0] <= 4
    assert set(seen) == set(keys)


def test_run_workers_failure_backs_off_and_success_forgets():
    q = WorkQueue()
    stop = threading.Event()
    calls: list = []
    succeeded = threading.Event()

    def handler(key):
        calls.append(key)
        if len(calls) == 1:
            raise RuntimeError("transient")
        if len(calls) == 2:
            return False
        succeeded.set()
        return True

    pool = run_workers(q, 2, handler, stop)
    q.add(A)
    assert succeeded.wait(10)
    assert pool.stop(timeout=5)
    assert calls == [A, A, A]
    assert q.num_requeues(A) == 0, "success forgets the backoff"
    assert q.processing() == 0


def test_workers_finish_the_key_in_hand_then_stop_promptly():
    q = WorkQueue()
    stop = threading.Event()
    entered, release, finished = threading.Event(), threading.Event(), threading.Event()

    def handler(key):
        entered.set()
        release.wait(10)
        finished.set()
        return True

    pool = run_workers(q, 1, handler, stop, poll=0.05)
    q.add(A)
    q.add(B)
    assert entered.wait(5)
    stop.set()
    release.set()
    assert pool.join(timeout=5)
    assert finished.is_set()
    assert len(q) == 1, "B is left queued, not processed after stop"


def test_queue_shutdown_ends_workers():
    q = WorkQueue()
    pool = run_workers(q, 3, lambda key: True, threading.Event(), poll=5)
    q.shutdown()
    assert pool.join(timeout=5)


def test_run_workers_rejects_zero_workers():
    with pytest.raises(ValueError):
        run_workers(WorkQueue(), 0, lambda k: True, threading.Event())


def test_queue_duration_of_a_requeued_key_counts_from_its_add():
    clock = FakeClock()
    m = Metrics()
    q = WorkQueue("lab", clock=clock, metrics=m)
    q.add(A)
    q.get(timeout=0)  # queue duration 0
    clock.advance(1)
    q.add(A)  # while processing
    clock.advance(2)
    q.done(A)
    q.get(timeout=0)  # waited 2 s since that add
    assert m.registry.get_sample_value("workqueue_queue_duration_seconds_sum", {"name": "lab"}) == pytest.approx(2)
