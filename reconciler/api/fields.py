"""Field paths: what a policy manages, as tuples below `spec` (e.g. `("services", "TSM-SSH", "running")`)."""

from __future__ import annotations

import fnmatch
from typing import Any

from .models import (
    DevicesSpec,
    EncryptionSpec,
    FirewallRulesetSpec,
    HostSecurityPolicySpec,
    LockdownSpec,
    NetworkSecuritySpec,
    ServiceSpec,
    StrictModel,
    VMSecurityPolicySpec,
)

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


def _leaves(model: type[StrictModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()
            if ("networkSecurity", info.alias) not in _NOT_CLAIMS]


# root -> (index of the fixed leaf name in the dotted path, allowed leaf names); advancedSettings keys are free.
_LEAVES: dict[str, tuple[int, list[str]]] = {
    "services": (2, _leaves(ServiceSpec)), "firewall": (2, _leaves(FirewallRulesetSpec)),
    "lockdown": (1, _leaves(LockdownSpec)), "networkSecurity": (1, _leaves(NetworkSecuritySpec)),
    "devices": (1, _leaves(DevicesSpec)), "encryption": (1, _leaves(EncryptionSpec)),
    "secureBoot": (0, []), "minHardwareVersion": (0, []),
}


def check_waiver_field(pattern: str) -> str | None:
    """A message when a waiver field pattern cannot name any setting, else None."""
    parts = pattern.split(".")
    root = parts[0]
    if not any(fnmatch.fnmatchcase(r, root) for r in WAIVABLE_ROOTS):
        return f"{pattern!r} names no setting; field paths start with one of: {', '.join(WAIVABLE_ROOTS)}"
    if root not in _LEAVES:
        return None  # a glob root, or advancedSettings.<any key>
    index, leaves = _LEAVES[root]
    if index == 0:
        return None if len(parts) == 1 else f"{pattern!r}: {root} has no sub-fields"
    if len(parts) > index + 1:
        return f"{pattern!r} is too long: {'.'.join(parts[:index + 1])} is already a single setting"
    if len(parts) == index + 1 and not any(fnmatch.fnmatchcase(leaf, parts[index]) for leaf in leaves):
        return f"{pattern!r} names no setting; after {'.'.join(parts[:index])} comes one of: {', '.join(leaves)}"
    return None

