"""The key provider of a VCenterSecurityPolicy (`keyProvider`), read from CryptoManagerKmip.kmipServers; see
`vcenter_advanced` for why vsr never registers one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Skip
from reconciler.vsphere.protocol import Connection

KIND = "VCenterSecurityPolicy"
REQUIRED: FieldPath = ("keyProvider", "required")
DEFAULT: FieldPath = ("keyProvider", "default")


def providers(state: ObjectState) -> list[tuple[str, bool]]:
    """[(provider id, is the default)] as CryptoManagerKmip.kmipServers reports them (KMIP and Native)."""
    return [(c.clusterId.id, bool(c.useAsDefault)) for c in state.props.get("kmipServers") or [] if c.clusterId]


_WHY_NOT = ("vsr does not register key providers: a KMIP provider needs the KMS address and certificates trusted "
            "both ways, a Native Key Provider's backup holds key material (site secrets); register it in vCenter")


class VCenterKeyProvider(Controller):
    name = "vcenterKeyProvider"
    order = 240
    spec_key = "keyProvider"
    managed_type = "CryptoManagerKmip"
    policy_kind = KIND
    properties = ("kmipServers",)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        found = providers(state)
        ids = [i for i, _ in found]
        default = next((i for i, d in found if d), None)
        diffs: list[FieldDiff] = []
        want = desired.get(DEFAULT)
        if want is not None and default != want:
            if want in ids:
                diffs.append(FieldDiff(DEFAULT, default, want))
            else:
                diffs.append(FieldDiff(DEFAULT, default, want, skip=Skip.UNSUPPORTED,
                                       message=f"key provider {want!r} is not registered "
                                               f"(registered: {', '.join(ids) or 'none'}); {_WHY_NOT}"))
        if desired.get(REQUIRED) and default is None and want is None:
            reason = _WHY_NOT if not ids else "several key providers and none is the default: set keyProvider.default"
            diffs.append(FieldDiff(REQUIRED, False, True, skip=Skip.UNSUPPORTED, message=reason))
        return diffs

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        for d in diffs:
            if d.path == DEFAULT:
                conn.call(state.mo.SetDefaultKmsCluster, clusterId=vim.encryption.KeyProviderId(id=str(d.desired)))
