"""Attestations: a person's statement, with evidence and an expiry, that manual or process controls are met on
the selected objects. Reports count them as `attested`; an expired one is reported and stops counting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.engine.placement import Placement
from reconciler.engine.waivers import selects


@dataclass(frozen=True)
class AttestationRule:
    name: str
    selector: Mapping[str, Any]
    controls: tuple[str, ...]  # as written: catalog ids or SCG / STIG IDs
    statement: str
    evidence: str
    owner: str
    expires: dt.date
    vcenter: str | None = None
    source: str = ""

    def active(self, today: dt.date) -> bool:
        return today <= self.expires

    def selects(self, object_type: str, name: str, place: Placement, is_template: bool = False) -> bool:
        """Same selection rules as a Waiver's selector."""
        return selects(self.selector, object_type, name, place, is_template)

    def describe(self, today: dt.date) -> str:
        when = (f"until {self.expires.isoformat()}" if self.active(today)
                else f"EXPIRED on {self.expires.isoformat()}, no longer counts")
        return f"attested by {self.name} ({self.owner}) {when}: {self.statement}; evidence {self.evidence}"


def from_spec(name: str, spec: Mapping[str, Any], source: str = "") -> AttestationRule:
    expires = spec["expires"]
    if isinstance(expires, str):
        expires = dt.date.fromisoformat(expires)
    return AttestationRule(name=name, selector=spec.get("selector") or {}, controls=tuple(spec.get("controls") or ()),
                           statement=str(spec.get("statement", "")), evidence=str(spec.get("evidence", "")),
                           owner=str(spec.get("owner", "")), expires=expires, vcenter=spec.get("vcenter"),
                           source=source)
