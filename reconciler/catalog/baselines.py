"""The shipped baselines (`specs/baselines/<name>/*.yaml`) as data: their site parameters (`!required NAME`
placeholders that `vsr validate` refuses until filled) and the spec fields each baseline sets. Used by the
controls documentation generator and the tests; `vsr` itself reads baselines as ordinary spec files."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from reconciler.api import fields as shape
from reconciler.api.yaml12 import CoreLoader
from reconciler.catalog.model import FieldPath

PLACEHOLDER = re.compile(r"!required\s+([A-Z][A-Z0-9_]*)")
KIND_TYPES = {"HostSecurityPolicy": ("HostSystem",), "VMSecurityPolicy": ("VirtualMachine",)}
#: VCenterSecurityPolicy sections by the object type they are set on
VCENTER_SECTION_TYPES = {"advancedSettings": "OptionManager", "keyProvider": "CryptoManagerKmip",
                         "distributedSwitch": "DistributedVirtualSwitch",
                         "distributedPortgroup": "DistributedVirtualPortgroup"}


def _code(line: str) -> bool:
    return not line.lstrip().startswith("#")


def placeholders(text: str) -> list[str]:
    """The site parameters a baseline file still asks for, in order of appearance (comments aside)."""
    return [name for line in text.splitlines() if _code(line) for name in PLACEHOLDER.findall(line)]


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace each `!required NAME` by `values[NAME]` (YAML text, e.g. '"udp://10.0.0.5:514"' or '["10.0.0.0/8"]')."""
    missing = sorted(set(placeholders(text)) - set(values))
    if missing:
        raise KeyError(f"no value for site parameter(s): {', '.join(missing)}")
    return "".join(PLACEHOLDER.sub(lambda m: values[m.group(1)], line) if _code(line) else line
                   for line in text.splitlines(keepends=True))


class _Loader(CoreLoader):
    """Reads baselines with their placeholders (as the parameter name), with the spec loader's YAML 1.2 scalars."""


_Loader.add_constructor("!required", lambda loader, node: f"<{loader.construct_scalar(node)}>")


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_Loader) if d]


def baseline_fields(directory: Path) -> set[tuple[str, FieldPath]]:
    """(object type, field path) of every field a baseline directory sets. Host policies that manage
    `networkSecurity.distributedPortgroups` also set the security fields on DV portgroups."""
    out: set[tuple[str, FieldPath]] = set()
    for file in sorted(directory.glob("*.yaml")):
        for doc in documents(file):
            spec, kind = doc.get("spec") or {}, doc.get("kind", "")
            if kind == "VCenterSecurityPolicy":
                out.update((VCENTER_SECTION_TYPES[p[0]], p) for p in shape.settings_of(kind, spec))
                continue
            if kind not in KIND_TYPES:
                continue
            for path in shape.settings_of(kind, spec):
                for object_type in KIND_TYPES[kind]:
                    out.add((object_type, path))
                if path[0] == "networkSecurity" and (spec.get("networkSecurity") or {}).get("distributedPortgroups"):
                    out.add(("DistributedVirtualPortgroup", path))
    return out


def baseline_dirs(root: Path) -> dict[str, Path]:
    """`specs/baselines/<name>` directories by name."""
    return {d.name: d for d in sorted(root.iterdir()) if d.is_dir() and any(d.glob("*.yaml"))}
