"""Liveness of the daemon's threads: the main loop and each vCenter loop beat a named heartbeat; `/healthz`
fails when one of them has not beaten for longer than its threshold, naming it and saying since when.

A vCenter loop beats at every turn of its watch loop (the property-collector long-poll is bounded to about a
second), at every connection attempt and every second of its reconnect backoff, so a loop that is merely
disconnected or waiting stays alive; a loop whose thread is blocked (a vSphere call that does not return, a
deadlock) stops beating and is reported stuck after `threshold` seconds."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_THRESHOLD = 300.0  # > 2x the 120 s SOAP socket timeout: one slow call is not "stuck"


@dataclass(frozen=True)
class Verdict:
    alive: bool
    message: str  # "ok", or which part is stuck and since when


class Liveness:
    """Named heartbeats with a threshold each. Thread-safe; `beat` is cheap (one dict store under a lock)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._threshold: dict[str, float] = {}

    def register(self, name: str, threshold: float) -> None:
        """Start tracking `name` (counts as a beat now)."""
        with self._lock:
            self._threshold[name] = threshold
            self._last[name] = self._clock()

    def unregister(self, name: str) -> None:
        with self._lock:
            self._threshold.pop(name, None)
            self._last.pop(name, None)

    def beat(self, name: str) -> None:
        with self._lock:
            if name in self._threshold:
                self._last[name] = self._clock()

    def beater(self, name: str) -> "NamedBeat":
        """An object whose `beat()` beats `name` (handed to a loop, like a `status.Heartbeat`)."""
        return NamedBeat(self, name)

    def age(self, name: str) -> float:
        with self._lock:
            return self._clock() - self._last[name]

    def check(self) -> Verdict:
        """Alive unless some heartbeat is older than its threshold; the message names every stuck one."""
        now, wall = self._clock(), self._wall()
        with self._lock:
            stale = sorted((name, now - last, self._threshold[name]) for name, last in self._last.items()
                           if now - last > self._threshold[name])
        if not stale:
            return Verdict(True, "ok")
        parts = []
        for name, age, threshold in stale:
            since = dt.datetime.fromtimestamp(wall - age, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            parts.append(f"{name} stuck: no progress for {age:.0f} s (since {since}; threshold {threshold:g} s)")
        return Verdict(False, "; ".join(parts))


@dataclass(frozen=True)
class NamedBeat:
    liveness: Liveness
    name: str

    def beat(self) -> None:
        self.liveness.beat(self.name)
