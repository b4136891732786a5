"""The control catalog's data model: one `Control` per SCG / STIG / seed control, with the spec field paths that
implement it (per managed-object type) or the reason vsr cannot manage it, its framework IDs (NIST 800-53r5,
PCI DSS 4.0.1) and, for SCG 9 controls, the SCG 8 / STIG V2R3 controls it replaces or equals."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from reconciler.api import fields as shape

FieldPath = tuple[str, ...]


def parse_path(text: str) -> FieldPath:
    """A field path as written for people (`advancedSettings.Mem.ShareForceSalting`) -> its tuple form."""
    return shape.parse_field_path(text)


render_path = shape.render_field_path


@dataclass(frozen=True)
class FieldRef:
    """One spec field (a glob per path element) on one managed-object type that implements a control."""

    object_type: str
    pattern: FieldPath

    def matches(self, object_type: str, path: FieldPath) -> bool:
        return (object_type == self.object_type and len(path) == len(self.pattern)
                and all(fnmatch.fnmatchcase(p, q) for p, q in zip(path, self.pattern)))

    @property
    def text(self) -> str:
        return render_path(self.pattern)


@dataclass(frozen=True)
class Unmanaged:
    """Why vsr cannot manage a control: a category (esxcli, guest, vcenter, shell, no-controller, process,
    readonly, not-expressible) and a sentence."""

    category: str
    reason: str


GUIDES = {"scg-8": "SCG 8", "scg-9": "VCF 9.1 SCG"}
STIG_NAMES = {"scg-8": "DISA STIG V2R3", "scg-9": "DISA VCF 9 STIG"}


def _ids(raw: dict[str, Any], key: str) -> tuple[str, ...]:
    return tuple(raw.get(key) or ())


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    guide: str = "scg-8"
    scg: tuple[str, ...] = ()
    stig: tuple[str, ...] = ()
    seeds: tuple[str, ...] = ()
    target: str = ""
    mechanism: str = ""
    setting: str = ""
    desired: str = ""
    stig_value: str | None = None
    impact: str = "none"
    scg_priority: str | None = None
    default_enabled: bool = True
    site_specific: tuple[str, ...] = ()
    versions: str | None = None
    fields: tuple[FieldRef, ...] = ()
    unmanaged: Unmanaged | None = None
    #: framework IDs: NIST SP 800-53 rev 5, PCI DSS 4.0.1, Secure Controls Framework
    nist: tuple[str, ...] = ()
    pci: tuple[str, ...] = ()
    scf: tuple[str, ...] = ()
    #: catalog ids of the older controls (SCG 8, STIG V2R3, seeds) this one replaces or equals
    replaces: tuple[str, ...] = ()
    #: the guide's own words (SCG 9): Audit (the default is compliant: check it stays so) or Modify
    action: str = ""
    component: str = ""
    suggested: str = ""
    default_value: str = ""
    is_default: bool | None = None
    location: str = ""
    powercli_check: str = ""
    powercli_fix: str = ""
    functional_impact: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def official_ids(self) -> tuple[str, ...]:
        """SCG and STIG identifiers, else the catalog id (seed-only controls)."""
        ids = self.scg + self.stig
        return ids or (self.id,)

    @property
    def source(self) -> str:
        """Where the control comes from, for people: `SCG 8`, `DISA STIG V2R3`, `VCF 9.1 SCG`, `seed 000`."""
        parts = ([GUIDES[self.guide]] if self.scg else []) + ([STIG_NAMES[self.guide]] if self.stig else [])
        parts += [f"seed {s}" for s in self.seeds]
        return ", ".join(parts)

    @property
    def audit_only(self) -> bool:
        """The guide says to audit, not change, this setting (SCG 9 "Action Needed: Audit")."""
        return self.action == "Audit"

    def covers(self, object_type: str, path: FieldPath) -> bool:
        return any(f.matches(object_type, path) for f in self.fields)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Control":
        fields = tuple(FieldRef(f["type"], parse_path(f["path"])) for f in raw.get("fields") or [])
        unmanaged = raw.get("unmanaged")
        return cls(
            id=raw["id"], title=raw["title"], scg=tuple(raw.get("scg") or ()), stig=tuple(raw.get("stig") or ()),
            seeds=tuple(raw.get("seeds") or ()), target=raw.get("target", ""), mechanism=raw.get("mechanism", ""),
            setting=raw.get("setting", ""), desired=raw.get("desired", ""), stig_value=raw.get("stig_value"),
            impact=raw.get("impact", "none"), scg_priority=raw.get("scg_priority"),
            default_enabled=raw.get("default_enabled", True), site_specific=tuple(raw.get("site_specific") or ()),
            versions=raw.get("versions"), fields=fields,
            unmanaged=Unmanaged(unmanaged["category"], unmanaged["reason"]) if unmanaged else None,
            guide=raw.get("guide", "scg-8"), nist=_ids(raw, "nist"), pci=_ids(raw, "pci"), scf=_ids(raw, "scf"),
            replaces=_ids(raw, "replaces"), action=raw.get("action", ""), component=raw.get("component", ""),
            suggested=raw.get("suggested", ""), default_value=raw.get("default_value", ""),
            is_default=raw.get("is_default"), location=raw.get("location", ""),
            powercli_check=raw.get("powercli_check", ""), powercli_fix=raw.get("powercli_fix", ""),
            functional_impact=raw.get("functional_impact", ""),
        )
