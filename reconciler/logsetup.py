"""structlog configuration shared by every command. Logs go to stderr; stdout is reserved for command output."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from reconciler.report.escape import console


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is now, not to the stream that was current when logging was set up
    (an embedding program or a test runner may replace and close it)."""

    def write(self, text: str) -> int:
        try:
            return sys.stderr.write(text)
        except (ValueError, OSError):  # closed or broken: logging must never fail the caller
            return 0

    def flush(self) -> None:
        try:
            sys.stderr.flush()
        except (ValueError, OSError):
            pass


def _escape_text(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Console logs: one event is one line, whatever an object name or message contains (newlines, ESC...)."""
    return {k: console(v) if isinstance(v, str) and k != "exception" else v for k, v in event_dict.items()}


def configure_logging(fmt: str = "console", level: str = "warning") -> None:
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        numeric = logging.WARNING
    logging.basicConfig(stream=_CurrentStderr(), level=numeric, format="%(message)s", force=True)
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            *([] if fmt == "json" else [_escape_text]),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
