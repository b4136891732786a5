"""Waivers: time-boxed, owned exceptions for field paths on selected objects."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.api.fields import field_matches
from reconciler.controllers.contract import FieldPath
from reconciler.engine import selection
from reconciler.engine.placement import Placement


@dataclass(frozen=True)
class WaiverRule:
    name: str
    selector: Mapping[str, Any]
    fields: tuple[str, ...]
    policies: tuple[str, ...]  # empty = every policy
    reason: str
    owner: str
    expires: dt.date
    source: str = ""

    def active(self, today: dt.date) -> bool:
        return today <= self.expires

    def covers(self, object_type: str, name: str, place: Placement, path: FieldPath, policy: str,
               is_template: bool = False) -> bool:
        if self.policies and policy not in self.policies:
            return False
        if not any(field_matches(pattern, path) for pattern in self.fields):
            return False
        return selects(self.selector, object_type, name, place, is_template)

    def describe(self) -> str:
        return f"waived by {self.name} until {self.expires.isoformat()} ({self.owner}): {self.reason}"


def selects(selector: Mapping[str, Any], object_type: str, name: str, place: Placement,
            is_template: bool = False) -> bool:
    """Does a Waiver's (or Attestation's) selector select this object?"""
    if object_type in ("OptionManager", "CryptoManagerKmip"):
        # the vCenter's own objects sit in no datacenter: any waiver that names no host or VM dimension covers them
        return not any(selector.get(d) for d in selection.VM_DIMENSIONS if d != "datacenters")
    if object_type in ("DistributedVirtualPortgroup", "DistributedVirtualSwitch"):
        # portgroups belong to no host or cluster: a waiver covers them only by naming their datacenter
        # (and nothing else), narrowed by `exclude` on the portgroup name
        if not selector.get("datacenters") or any(selector.get(d) for d in selection.VM_DIMENSIONS
                                                  if d != "datacenters"):
            return False
        return selection.matches({"hosts": ["*"], **selector}, "HostSystem", name,
                                 Placement(place.datacenter, None, name))
    return selection.matches(selector, object_type, name, place, is_template)


def from_spec(name: str, spec: Mapping[str, Any], source: str = "") -> WaiverRule:
    expires = spec["expires"]
    if isinstance(expires, str):
        expires = dt.date.fromisoformat(expires)
    return WaiverRule(
        name=name,
        selector=spec.get("selector") or {},
        fields=tuple(spec.get("fields") or ()),
        policies=tuple(spec.get("policies") or ()),
        reason=str(spec.get("reason", "")),
        owner=str(spec.get("owner", "")),
        expires=expires,
        source=source,
    )


def find(waivers: Iterable[WaiverRule], today: dt.date, object_type: str, name: str, place: Placement,
         path: FieldPath, policy: str, is_template: bool = False) -> WaiverRule | None:
    for waiver in waivers:
        if waiver.active(today) and waiver.covers(object_type, name, place, path, policy, is_template):
            return waiver
    return None
