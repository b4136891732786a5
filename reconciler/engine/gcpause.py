"""Pausing Python's cyclic garbage collector during bulk work.

A bulk read of thousands of objects allocates hundreds of thousands of pyVmomi data objects; each gen-2 collection
then walks the whole live heap again, which cost a third of a 1,920-VM plan (issue 19, bench/plan.py). These
objects hold no reference cycles (reference counting frees them), so collections during a plan find nothing.
`paused()` disables the collector for the block and restores it after; nested and concurrent blocks (threads of an
apply, the daemon's workers) share one pause, and the collector runs again when the last block ends."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside the block (reference counting still frees memory)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
