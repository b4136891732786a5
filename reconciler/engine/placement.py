"""Where each object sits in the inventory (datacenter, cluster, host, VM folder), derived from one bulk fetch of
every entity's name and parent, so selectors match without per-object round trips."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Entity:
    type: str  # "Datacenter", "Folder", "ClusterComputeResource", "ComputeResource", "HostSystem", ...
    name: str
    parent: str | None  # moid


@dataclass(frozen=True)
class Placement:
    datacenter: str | None = None
    cluster: str | None = None
    host: str | None = None
    folder: str = ""  # VM folder path below the datacenter's VM root, "" at the root, "Prod/Web" nested


def _ancestors(moid: str, tree: Mapping[str, Entity]) -> list[Entity]:
    chain: list[Entity] = []
    seen: set[str] = set()
    current = tree.get(moid)
    while current is not None and current.parent and current.parent not in seen:
        seen.add(current.parent)
        current = tree.get(current.parent)
        if current is not None:
            chain.append(current)
    return chain


def placement_of(moid: str, tree: Mapping[str, Entity], host_of: str | None = None) -> Placement:
    """Placement of any entity. For a VM pass `host_of` (its runtime.host moid): VMs hang below VM folders,
    their cluster comes from the host."""
    chain = _ancestors(moid, tree)
    datacenter = next((e.name for e in chain if e.type == "Datacenter"), None)
    cluster = next((e.name for e in chain if e.type == "ClusterComputeResource"), None)
    host = None
    folders: list[str] = []
    for entity in chain:
        if entity.type == "Datacenter":
            break
        if entity.type == "Folder":
            folders.append(entity.name)
    if folders:
        folders.pop()  # the datacenter's root folder ("vm", "host", "network")
    entity = tree.get(moid)
    if entity is not None and entity.type == "HostSystem":
        host = entity.name
    if host_of is not None and host_of in tree:
        host = tree[host_of].name
        host_place = placement_of(host_of, tree)
        cluster = host_place.cluster
        datacenter = datacenter or host_place.datacenter
    return Placement(datacenter=datacenter, cluster=cluster, host=host, folder="/".join(reversed(folders)))
