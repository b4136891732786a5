"""Small text helpers shared by the report renderers."""

from __future__ import annotations

import json
from typing import Any

from reconciler.engine.types import jsonable

MAX = 120


def short(value: Any, limit: int = MAX) -> str:
    """A value for one line of text: JSON-ish, `unset` for None, cut at `limit` characters."""
    if value is None:
        return "unset"
    text = json.dumps(jsonable(value), default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
