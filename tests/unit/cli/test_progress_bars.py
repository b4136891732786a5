"""The CLI's planning spinner follows the planner's phases (`reconciler.progress`) on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from reconciler import progress
from reconciler.commands._progress import Bars


def terminal() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=120)


def test_planning_spinner_shows_the_phase_and_the_object_count():
    with Bars(enabled=True, console=terminal()) as bars, bars.planning("lab", 1, 2):
        progress.report("checking objects", 64, 128)
        (task,) = bars.progress.tasks
        assert (task.description, task.completed, task.total) == ("planning lab (1/2): checking objects", 64, 128)


def test_nobody_listens_outside_planning():
    with Bars(enabled=True, console=terminal()) as bars:
        with bars.planning("lab", 1, 1):
            assert progress.listening()
        assert not progress.listening()
        progress.report("reading inventory", 10)  # no listener: nothing happens
        assert bars.progress.tasks == []
