"""Shared pytest configuration: the simulator fixtures (see tests/simulator.py and docs/architecture.md).

- ``sim``: one simulator per test session, default inventory; treat it as read-only.
- ``sim_factory``: ``sim_factory("-esx", "-drift")`` starts a differently shaped simulator, stopped at teardown.
- ``fresh_sim``: a private default simulator for a test that mutates state.

Tests using any of them are marked ``integration`` automatically.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:  # make tests/simulator.py importable as `simulator`
    sys.path.insert(0, str(Path(__file__).parent))

from simulator import SimHandle, start_simulator  # noqa: E402

SIM_FIXTURES = {"sim", "sim_factory", "fresh_sim"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SIM_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def sim():
    handle = start_simulator()
    yield handle
    handle.stop()


@pytest.fixture
def sim_factory():
    started: list[SimHandle] = []

    def factory(*flags: str, **kwargs) -> SimHandle:
        handle = start_simulator(*flags, **kwargs)
        started.append(handle)
        return handle

    yield factory
    for handle in started:
        handle.stop()


@pytest.fixture
def fresh_sim():
    handle = start_simulator()
    yield handle
    handle.stop()
