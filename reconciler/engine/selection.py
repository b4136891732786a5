"""Selector matching. A selector is the JSON-mode dict of a policy's `selector`.

Semantics (documented in docs/specs.md): every non-empty list must match (datacenters, clusters, hosts, folders,
vms); globs are case-sensitive shell patterns; `exclude` drops objects whose name matches; a selector whose lists
are all empty matches nothing. A standalone host has no cluster, so `clusters` (even `["*"]`) does not select it;
`hosts: ["*"]` does. DV portgroups: see `matches`."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.engine.placement import Placement

HOST_DIMENSIONS = ("datacenters", "clusters", "hosts")
VM_DIMENSIONS = ("datacenters", "clusters", "hosts", "folders", "vms")


def _any(value: str | None, globs: Iterable[str]) -> bool:
    return value is not None and any(fnmatch.fnmatchcase(value, g) for g in globs)


def is_empty(selector: Mapping[str, Any] | None, dimensions: Iterable[str] = VM_DIMENSIONS) -> bool:
    return not selector or not any(selector.get(d) for d in dimensions)


#: the object types of a VCenterSecurityPolicy, by the selector list that names them (None: the vCenter's own)
VCENTER_TYPES: dict[str, str | None] = {"DistributedVirtualSwitch": "switches",
                                        "DistributedVirtualPortgroup": "portgroups",
                                        "OptionManager": None, "CryptoManagerKmip": None}


def matches_vcenter(selector: Mapping[str, Any] | None, object_type: str, name: str, place: Placement) -> bool:
    """A VCenterSecurityPolicy's selector: the vCenter's own objects always; switches and portgroups when named in
    `switches` / `portgroups` (explicit opt-in), within `datacenters` (omitted: any), minus `exclude`. A non-empty
    `switches` also narrows portgroups to those of the matching switches (`place.switch`)."""
    selector = selector or {}
    dim = VCENTER_TYPES.get(object_type)
    if dim is None:
        return object_type in VCENTER_TYPES
    if not _any(name, selector.get(dim) or []) or _any(name, selector.get("exclude") or []):
        return False
    if dim == "portgroups" and selector.get("switches") and not _any(place.switch, selector["switches"]):
        return False
    return not (selector.get("datacenters") and not _any(place.datacenter, selector["datacenters"]))


def matches(selector: Mapping[str, Any] | None, object_type: str, name: str, place: Placement,
            is_template: bool = False, kind: str | None = None) -> bool:
    if kind == "VCenterSecurityPolicy":
        return matches_vcenter(selector, object_type, name, place)
    if is_empty(selector):
        return False
    assert selector is not None
    values = {
        "datacenters": place.datacenter,
        "clusters": place.cluster,
        "hosts": place.host if object_type != "DistributedVirtualPortgroup" else None,
        "folders": place.folder,
        "vms": name if object_type == "VirtualMachine" else None,
    }
    if object_type == "HostSystem":
        values["hosts"] = name
    dims = VM_DIMENSIONS if object_type == "VirtualMachine" else HOST_DIMENSIONS
    if any(selector.get(d) for d in VM_DIMENSIONS if d not in dims):
        return False  # e.g. a waiver naming VMs never selects a host
    if object_type == "DistributedVirtualPortgroup":
        # DV portgroups are chosen by name in networkSecurity.distributedPortgroups (an explicit opt-in);
        # the selector only narrows them to its datacenters, and `exclude` is not applied to them
        return not (selector.get("datacenters") and not _any(place.datacenter, selector["datacenters"]))
    for dim in dims:
        globs = selector.get(dim) or []
        if globs and not _any(values[dim], globs):
            return False
    if object_type == "VirtualMachine" and is_template and not selector.get("templates", False):
        return False
    return not _any(name, selector.get("exclude") or [])
