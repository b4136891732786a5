"""Progress of long phases, for whoever shows it (the CLI's bars on a terminal); silent when nobody listens.

The planner and the bulk reads call `report(phase, done, total)`; `vsr plan/apply/report` listen with
`reporting(callback)` around a vCenter's planning. A context variable, so that nothing is threaded through the
engine's signatures and a daemon (which never listens) pays one lookup per call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Callback = Callable[[str, int, "int | None"], None]

_listener: ContextVar[Callback | None] = ContextVar("vsr_progress", default=None)


@contextmanager
def reporting(callback: Callback) -> Iterator[None]:
    """Send this context's progress reports to `callback(phase, done, total)` (total None: unknown)."""
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)


def report(phase: str, done: int, total: int | None = None) -> None:
    listener = _listener.get()
    if listener is not None:
        listener(phase, done, total)


def listening() -> bool:
    """Whether anyone listens (to skip counting work in loops nobody watches)."""
    return _listener.get() is not None
