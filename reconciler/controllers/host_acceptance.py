"""The host image acceptance level (HostImageConfigManager): `acceptanceLevel.minimum`.

Levels are ordered VMwareCertified > VMwareAccepted > PartnerSupported > CommunitySupported; a host at the
minimum or above complies, one below it is raised to the minimum (`UpdateHostImageAcceptanceLevel`). The level
has no property: `HostImageConfigGetAcceptance` is a polled source."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Polled, Skip
from reconciler.vsphere.protocol import Connection

IMAGE_CONFIG = "configManager.imageConfigManager"
ACCEPTANCE = "imageAcceptanceLevel"  # the polled source
MINIMUM: FieldPath = ("acceptanceLevel", "minimum")

#: spec name -> the API's HostImageAcceptanceLevel, lowest first
WIRE = {"CommunitySupported": "community", "PartnerSupported": "partner", "VMwareAccepted": "vmware_accepted",
        "VMwareCertified": "vmware_certified"}
SPEC = {v: k for k, v in WIRE.items()}
RANK = {name: i for i, name in enumerate(WIRE)}


class HostAcceptanceLevel(Controller):
    name = "acceptanceLevel"
    order = 65
    spec_key = "acceptanceLevel"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ()
    polled = (Polled(ACCEPTANCE, via=IMAGE_CONFIG, method="HostImageConfigGetAcceptance"),)

    def observe(self, state: ObjectState) -> None:
        read = state.polled.get(ACCEPTANCE)
        if read is not None:
            state.own(self.name)["level"] = None if read.value is None else str(read.value)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        if MINIMUM not in desired:
            return []
        want = str(desired[MINIMUM])
        raw = state.own(self.name).get("level")
        if raw is None:
            return [FieldDiff(MINIMUM, None, want, skip=Skip.UNSUPPORTED,
                              message="the host reports no image acceptance level")]
        current = SPEC.get(raw)
        if current is None:
            return [FieldDiff(MINIMUM, raw, want, skip=Skip.UNSUPPORTED,
                              message=f"unknown acceptance level {raw!r} on this host")]
        if RANK[current] >= RANK[want]:
            return []
        return [FieldDiff(MINIMUM, current, want, message=f"{current} is below the minimum {want}")]

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        conn.call(state.props[IMAGE_CONFIG].UpdateHostImageAcceptanceLevel, newAcceptanceLevel=WIRE[diffs[0].desired])
