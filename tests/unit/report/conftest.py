"""Fixtures of the report tests (the run itself is built in report_fixtures.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from report_fixtures import build_report  # noqa: E402


@pytest.fixture
def report():
    return build_report()
