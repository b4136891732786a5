"""Logging that can never break a vSphere call: structlog resolved at each call, failures of the sink ignored."""

from __future__ import annotations

import logging
from typing import Any

import structlog


class SafeLogger:
    """A tiny bound logger: ``SafeLogger(vcenter="lab").warning("event", key=value)``."""

    def __init__(self, name: str = "reconciler.vsphere", **context: Any):
        self._name = name
        self._context = context

    def bind(self, **context: Any) -> "SafeLogger":
        return SafeLogger(self._name, **{**self._context, **context})

    def _emit(self, level: str, event: str, **kw: Any) -> None:
        try:
            getattr(structlog.get_logger(self._name), level)(event, **self._context, **kw)
        except Exception:  # noqa: BLE001 - a closed or broken log stream must not fail the reconciler
            pass

    def debug(self, event: str, **kw: Any) -> None:
        self._emit("debug", event, **kw)

    def info(self, event: str, **kw: Any) -> None:
        self._emit("info", event, **kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._emit("warning", event, **kw)

    def error(self, event: str, **kw: Any) -> None:
        self._emit("error", event, **kw)

    def log(self, level: int, event: str, **kw: Any) -> None:
        self._emit(logging.getLevelName(level).lower() if level in (10, 20, 30, 40) else "info", event, **kw)


log = SafeLogger()
