"""The control catalog: SCG 8 / DISA STIG / seed controls, the spec field paths that implement them, and why
the others cannot be managed. Data in `controls.yaml` beside this module; docs/controls.md is generated from it.

    from reconciler import catalog
    catalog.controls_for("HostSystem", ("advancedSettings", "Mem.ShareForceSalting"))
    -> ("esxi-8.transparent-page-sharing", "ESXI-80-000213")
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml

from reconciler.catalog.model import Control, FieldPath, FieldRef, Unmanaged, parse_path, render_path

DATA = "controls.yaml"


@lru_cache(maxsize=1)
def controls() -> tuple[Control, ...]:
    """Every control of the catalog, in catalog order."""
    text = resources.files(__package__).joinpath(DATA).read_text(encoding="utf-8")
    return tuple(Control.from_dict(raw) for raw in yaml.safe_load(text)["controls"])


@lru_cache(maxsize=1)
def by_id() -> dict[str, Control]:
    return {c.id: c for c in controls()}


@lru_cache(maxsize=4096)
def matching(object_type: str, path: FieldPath) -> tuple[Control, ...]:
    """The controls a spec field implements on an object type (first = the primary control)."""
    return tuple(c for c in controls() if c.covers(object_type, tuple(path)))


def control_for(object_type: str, path: FieldPath) -> Control | None:
    """The primary control of a field (the one a report groups it under), or None when uncatalogued."""
    found = matching(object_type, tuple(path))
    return found[0] if found else None


def controls_for(object_type: str, path: FieldPath) -> tuple[str, ...]:
    """SCG and STIG identifiers of the controls a spec field implements on an object type."""
    ids: dict[str, None] = {}
    for control in matching(object_type, tuple(path)):
        ids.update(dict.fromkeys(control.official_ids))
    return tuple(ids)


__all__ = ["Control", "FieldPath", "FieldRef", "Unmanaged", "by_id", "control_for", "controls", "controls_for",
           "matching", "parse_path", "render_path"]
