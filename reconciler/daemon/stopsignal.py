"""Stop requests for `vsr run` that are safe to make from a signal handler.

A Python signal handler runs in the main thread between two bytecodes, possibly while that thread holds a lock
(a `threading.Event`'s condition, a logging or stdout buffer lock). A handler that takes such a lock again (as
`Event.set()` does) deadlocks the process; with SIGINT followed by SIGTERM the second handler even runs nested
inside the first. So the handlers here only bump a counter and write one byte to a self-pipe (`os.write` of a
non-blocking pipe takes no Python lock); the main loop sleeps in `select()` on that pipe and notices at once.

The first SIGINT/SIGTERM asks for a clean shutdown; later ones are only counted (the shutdown is bounded to
3 s anyway, so there is nothing to hurry; SIGKILL remains the way to force an exit)."""

from __future__ import annotations

import os
import select
import signal
import threading
from types import FrameType


class StopSignal:
    """A stop flag with a self-pipe: `request()` from any thread or signal handler, `wait(timeout)` in the main
    loop (returns early when a request arrives)."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self.signals = 0  # SIGINT/SIGTERM received (plain int: written only by the handler, in the main thread)
        self._requested = False
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self._requested

    def request(self) -> None:
        """Ask the daemon to stop. Takes no lock: safe in a signal handler and from any thread."""
        self._requested = True
        try:
            os.write(self._write, b"x")
        except (BlockingIOError, OSError):  # the pipe is full (a wake-up is pending anyway) or closed
            pass

    def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout` seconds or until a stop is requested; True when one was."""
        if not self._requested:
            try:
                ready, _, _ = select.select([self._read], [], [], max(0.0, timeout))
            except (InterruptedError, OSError, ValueError):
                ready = []
            if ready:
                self._drain()
        return self._requested

    def _drain(self) -> None:
        try:
            while os.read(self._read, 512):
                pass
        except (BlockingIOError, OSError):
            pass

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        self.request()

    def install(self, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> bool:
        """Route `signals` here (main thread only; returns False elsewhere and installs nothing)."""
        if threading.current_thread() is not threading.main_thread():
            return False
        for sig in signals:
            self._previous[sig] = signal.signal(sig, self._handle)
        return True

    def uninstall(self) -> None:
        """Restore the previous handlers (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def ignore_further(self) -> None:
        """After a signal-requested stop: ignore the installed signals from now on (main thread only). Restoring the
        default handlers instead would let a repeated SIGTERM kill the finished daemon on its way out (exit -15)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in self._previous:
            signal.signal(sig, signal.SIG_IGN)
        self._previous.clear()

    def close(self) -> None:
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass
