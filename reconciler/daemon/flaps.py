"""Flap detection: a field remediated again and again (something keeps reverting it) is held back (DriftFlapping)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from reconciler.daemon.workqueue import Clock

K = TypeVar("K", bound=Hashable)  # what identifies an object (a moid)


class FlapDetector(Generic[K]):
    """Notices a field that is remediated again and again (someone or something keeps reverting it).

    `record(key, field)` after each remediation returns True once the same (key, field) was remediated
    `threshold` times within `window` seconds; it then stays flapping (`is_flapping`) until `reset(key, field)`
    or until `window` seconds pass without a new remediation."""

    def __init__(self, threshold: int = 5, window: float = 600.0, clock: Clock = time.monotonic) -> None:
        if threshold < 1 or window <= 0:
            raise ValueError("threshold must be >= 1 and window > 0")
        self.threshold = threshold
        self.window = window
        self._clock = clock
        self._history: dict[tuple[K, str], deque[float]] = {}
        self._flapping: set[tuple[K, str]] = set()
        self._lock = threading.Lock()

    def _expire_locked(self, item: tuple[K, str], now: float) -> deque[float] | None:
        times = self._history.get(item)
        if times is None:
            return None
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._history[item]
            self._flapping.discard(item)
            return None
        return times

    def record(self, key: K, field: str) -> bool:
        """Count one remediation of `field` on `key`; True when it is (now) flapping."""
        item = (key, field)
        with self._lock:
            now = self._clock()
            times = self._expire_locked(item, now)
            if times is None:
                times = self._history[item] = deque()
            times.append(now)
            if len(times) >= self.threshold:
                self._flapping.add(item)
            while len(times) > self.threshold:  # bounded memory
                times.popleft()
            return item in self._flapping

    def is_flapping(self, key: K, field: str) -> bool:
        """True while (key, field) is flapping; a whole quiet window since the last remediation clears it."""
        item = (key, field)
        with self._lock:
            now = self._clock()
            times = self._history.get(item)
            if not times:
                return False
            if now - times[-1] >= self.window:
                del self._history[item]
                self._flapping.discard(item)
                return False
            return item in self._flapping

    def reset(self, key: K, field: str) -> None:
        with self._lock:
            self._history.pop((key, field), None)
            self._flapping.discard((key, field))

    def forget(self, key: K) -> None:
        """Drop every field of `key` (the object was deleted)."""
        with self._lock:
            for item in [i for i in self._history if i[0] == key]:
                del self._history[item]
            self._flapping = {i for i in self._flapping if i[0] != key}

    def flapping(self) -> list[tuple[K, str]]:
        """The (key, field) pairs currently flapping."""
        with self._lock:
            return sorted(self._flapping, key=repr)
