"""Where an object sits in the inventory, in the terms selectors use. Built from `vsphere.inventory.entity_paths`
(one bulk fetch of every entity's name and parent), so matching needs no per-object round trips."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Placement:
    datacenter: str | None = None
    cluster: str | None = None
    host: str | None = None
    folder: str = ""  # VM folder path below the datacenter's VM root: "" at the root, "Prod/Web" nested


def from_entity(entity: Any) -> Placement:
    """Placement of an `inventory.EntityPath`. Its `folders` start with the datacenter's root folder
    ("vm", "host", "network"), which selectors do not name."""
    folders = tuple(entity.folders or ())
    return Placement(datacenter=entity.datacenter, cluster=entity.cluster, host=entity.host,
                     folder="/".join(folders[1:]))
