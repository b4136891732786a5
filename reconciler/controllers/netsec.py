"""Shared vocabulary of the network security controllers (standard and distributed)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.api import fields as shape
from reconciler.controllers.contract import FieldPath

SPEC_KEY = "networkSecurity"
#: the security settings (allowPromiscuous, macChanges, forgedTransmits), as the model declares them
SECURITY_FIELDS = shape.section_of("HostSecurityPolicy", SPEC_KEY).leaves


def wanted(desired: Mapping[FieldPath, Any]) -> dict[str, bool]:
    return {f: bool(desired[(SPEC_KEY, f)]) for f in SECURITY_FIELDS if (SPEC_KEY, f) in desired}


def selects_portgroup(name: str, desired: Mapping[FieldPath, Any]) -> bool:
    """A DV portgroup is managed by a policy that names it in `distributedPortgroups` and does not exclude it."""
    named = any(fnmatch.fnmatchcase(name, g) for g in _globs(desired.get((SPEC_KEY, "distributedPortgroups"))))
    return named and not excluded(name, desired)


def excluded(name: str, desired: Mapping[FieldPath, Any]) -> bool:
    return any(fnmatch.fnmatchcase(name, g) for g in _globs(desired.get((SPEC_KEY, "excludePortgroups"))))


def _globs(value: Any) -> Iterable[str]:
    return [str(v) for v in value or []]
