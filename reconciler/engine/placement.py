"""Where an object sits in the inventory, in the terms selectors use (`Placement`, part of the controller
contract because `ObjectState` carries it). Built from `vsphere.inventory.entity_paths`
(one bulk fetch of every entity's name and parent), so matching needs no per-object round trips."""

from __future__ import annotations

from typing import Any

from reconciler.controllers.contract import Placement

__all__ = ["Placement", "from_entity"]


def from_entity(entity: Any) -> Placement:
    """Placement of an `inventory.EntityPath`. Its `folders` start with the datacenter's root folder
    ("vm", "host", "network"), which selectors do not name."""
    folders = tuple(entity.folders or ())
    return Placement(datacenter=entity.datacenter, cluster=entity.cluster, host=entity.host,
                     folder="/".join(folders[1:]))
