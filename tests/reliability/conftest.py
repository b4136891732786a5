"""Reliability and security suite (issue 9): every test here is marked ``reliability`` (and ``integration`` when it
starts a simulator). Helpers live in ``rel_helpers.py``; the integration harness is importable as ``harness``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for extra in (HERE, HERE.parent / "integration"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.reliability)
