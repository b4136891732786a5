"""`-o yaml`: the same content as the JSON output (the stable contract), as YAML."""

from __future__ import annotations

import json
from typing import Any


def to_yaml(doc: Any) -> str:
    """Round-tripped through JSON so that every value is a plain YAML scalar, list or mapping."""
    import yaml

    return yaml.safe_dump(json.loads(json.dumps(doc, default=str)), sort_keys=False, allow_unicode=True)
