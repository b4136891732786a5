"""Shared vocabulary of the network security controllers (standard and distributed)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.engine.types import FieldPath

SPEC_KEY = "networkSecurity"
SECURITY_FIELDS = ("allowPromiscuous", "macChanges", "forgedTransmits")
PARAMETERS = frozenset({"excludePortgroups", "distributedPortgroups"})


def security_fields(section: Any) -> dict[FieldPath, Any]:
    if not isinstance(section, Mapping):
        return {}
    out: dict[FieldPath, Any] = {}
    for key, value in section.items():
        if key in SECURITY_FIELDS or key in PARAMETERS:
            out[(SPEC_KEY, key)] = value
    return out


def wanted(desired: Mapping[FieldPath, Any]) -> dict[str, bool]:
    return {f: bool(desired[(SPEC_KEY, f)]) for f in SECURITY_FIELDS if (SPEC_KEY, f) in desired}


def excluded(name: str, desired: Mapping[FieldPath, Any]) -> bool:
    return any(fnmatch.fnmatchcase(name, g) for g in _globs(desired.get((SPEC_KEY, "excludePortgroups"))))


def _globs(value: Any) -> Iterable[str]:
    return [str(v) for v in value or []]
