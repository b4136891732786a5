"""Field paths: what a policy manages, as tuples below `spec` (e.g. `("services", "TSM-SSH", "running")`)."""

from __future__ import annotations

import fnmatch
from typing import Any

from .models import HostSecurityPolicySpec, VMSecurityPolicySpec

FieldPath = tuple[str, ...]

# Top-level spec fields that are settings (claimed), with the depth of their leaves below the field name:
# 0 = the field itself, 1 = one dynamic key (advancedSettings.<key>), 2 = key then sub-field (services.<key>.running).
_HOST_SETTINGS = {"services": 2, "firewall": 2, "advancedSettings": 1, "lockdown": 1, "networkSecurity": 1}
_VM_SETTINGS = {"advancedSettings": 1, "secureBoot": 0, "minHardwareVersion": 0, "devices": 1, "encryption": 1}
_NOT_CLAIMS = {("networkSecurity", "excludePortgroups"), ("networkSecurity", "distributedPortgroups")}
SETTING_FIELDS: dict[type, dict[str, int]] = {HostSecurityPolicySpec: _HOST_SETTINGS, VMSecurityPolicySpec: _VM_SETTINGS}
WAIVABLE_ROOTS = sorted(set(_HOST_SETTINGS) | set(_VM_SETTINGS))


def managed_fields(spec: HostSecurityPolicySpec | VMSecurityPolicySpec) -> dict[FieldPath, Any]:
    """Every setting the policy manages (non-None leaves), keyed by field path tuple, values as written."""
    data = spec.model_dump(by_alias=True, exclude_none=True, mode="python")
    out: dict[FieldPath, Any] = {}
    for root, depth in SETTING_FIELDS[type(spec)].items():
        if root in data:
            _walk(data[root], (root,), depth, out)
    return {path: value for path, value in out.items() if path[:2] not in _NOT_CLAIMS}


def _walk(value: Any, path: FieldPath, depth: int, out: dict[FieldPath, Any]) -> None:
    if depth == 0 or not isinstance(value, dict):
        out[path] = value
        return
    for key, sub in value.items():
        _walk(sub, path + (str(key),), depth - 1, out)


def render_field_path(path: FieldPath) -> str:
    """`("advancedSettings", "Mem.ShareForceSalting")` -> `advancedSettings.Mem.ShareForceSalting`."""
    return ".".join(path)


def field_matches(pattern: str, path: FieldPath) -> bool:
    """Does a waiver field pattern (dotted, globs allowed) cover `path`? A pattern also covers sub-fields."""
    text = render_field_path(path)
    return fnmatch.fnmatchcase(text, pattern) or text.startswith(pattern.rstrip(".") + ".") \
        or fnmatch.fnmatchcase(text, pattern + ".*")


def check_waiver_field(pattern: str) -> str | None:
    """A message when a waiver field pattern cannot name any setting, else None."""
    root = pattern.split(".", 1)[0]
    if not any(fnmatch.fnmatchcase(r, root) for r in WAIVABLE_ROOTS):
        return f"{pattern!r} names no setting; field paths start with one of: {', '.join(WAIVABLE_ROOTS)}"
    return None

