"""Progress on a terminal: one spinner per vCenter while planning (with the planner's phases and object counts,
see `reconciler.progress`), one bar per vCenter while applying.

The apply callback is called from the executor's worker threads; a lock makes sure each vCenter gets exactly one
bar (without it, eight workers racing on the first callback drew several). Nothing is drawn off a terminal."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from reconciler import progress


class Bars:
    def __init__(self, enabled: bool | None = None, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        on = self.console.is_terminal if enabled is None else enabled
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=self.console, transient=True,
                                 disable=not on)
        self.tasks: dict[str, Any] = {}
        self.lock = threading.Lock()

    def __enter__(self) -> Bars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    @contextmanager
    def planning(self, vcenter: str, index: int, count: int) -> Iterator[None]:
        """A spinner while one vCenter is connected to and planned (`planning lab (1/3)`), then its phases as the
        planner reports them (`planning lab (1/3): reading inventory`, `... checking objects` with a bar)."""
        head = f"planning {vcenter} ({index}/{count})"
        task = self.progress.add_task(head, total=None)

        def phase(name: str, done: int, total: int | None) -> None:
            self.progress.update(task, description=f"{head}: {name}", completed=done, total=total)

        try:
            with progress.reporting(phase):
                yield
        finally:
            self.progress.remove_task(task)

    def on_apply(self, vcenter: str, done: int, total: int) -> None:
        """The executor's per-object callback: safe to call from any thread."""
        with self.lock:
            task = self.tasks.get(vcenter)
            if task is None:
                task = self.tasks[vcenter] = self.progress.add_task(f"applying on {vcenter}", total=total)
            self.progress.update(task, completed=done)
