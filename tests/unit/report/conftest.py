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


@pytest.fixture(autouse=True)
def restore_logging():
    """`vsr` commands run in-process bind structlog to the (captured) stderr of the test; put it back so that
    later tests do not log into a closed capture stream."""
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
