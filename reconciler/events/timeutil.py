"""Durations (``10m``, ``2h``, ``7d``, ``1h30m``, ``90s``, ``500ms``) and ``--since`` values."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str) -> timedelta:
    """``"10m"`` -> 10 minutes. Units: ms, s, m, h, d, w; parts may be combined (``1h30m``). A bare number is
    seconds. Raises ``ValueError`` with a message naming the accepted forms."""
    s = text.strip().lower().replace(" ", "")
    if not s:
        raise ValueError("empty duration")
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return timedelta(seconds=float(s))
    pos, total = 0, 0.0
    for match in _PART.finditer(s):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(s) or pos == 0:
        raise ValueError(f"invalid duration {text!r}: use a number and a unit, e.g. 30s, 10m, 2h, 7d, 1h30m")
    return timedelta(seconds=total)


def parse_since(text: str) -> timedelta | datetime:
    """A ``--since`` value: a duration (``10m``) or an absolute time (``2026-11-22T01:00:00Z``, ``2026-11-22``);
    times without a zone are UTC."""
    try:
        return parse_duration(text)
    except ValueError as duration_error:
        try:
            value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"invalid --since {text!r}: give a duration (10m, 2h, 7d) or a time "
                             "(2026-11-22T01:00:00Z)") from duration_error
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def format_duration(delta: timedelta) -> str:
    """Short age like kubectl: ``45s``, ``12m``, ``3h``, ``5d``."""
    seconds = int(max(0, delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
