"""VM encryption: `encryption: {required: true, keyProvider: NAME}`.

A VM without `config.keyId` is reported; with a key provider (a KMS cluster, or a vSphere Native Key Provider)
registered in vCenter, vsr generates a
key there and encrypts the VM (powered off, gated by `powerCycle`). `keyProvider` names the KMS cluster; omitted,
vCenter's default provider is used. Without any provider the drift is reported `unsupported` with that reason.
`required: false` never decrypts anything."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim, vmodl

from reconciler.controllers.contract import FieldDiff, FieldPath, Impact, ObjectState, Skip
from reconciler.controllers.vm_common import VMController, config_spec, gate, reconfigure
from reconciler.vsphere.protocol import Connection

REQUIRED: FieldPath = ("encryption", "required")
PROVIDER: FieldPath = ("encryption", "keyProvider")


def choose_provider(clusters: list[tuple[str, bool]], wanted: str | None) -> tuple[str | None, str]:
    """(provider id, reason if none) from [(cluster id, is default)]."""
    ids = [c for c, _ in clusters]
    if wanted:
        return (wanted, "") if wanted in ids else (None, f"key provider {wanted!r} is not registered in vCenter "
                                                         f"(registered: {', '.join(ids) or 'none'})")
    default = next((c for c, is_default in clusters if is_default), ids[0] if len(ids) == 1 else None)
    if default:
        return default, ""
    return None, ("no key provider registered in vCenter" if not ids
                  else "several key providers and no default: set encryption.keyProvider")


def key_providers(conn: Connection) -> list[tuple[str, bool]]:
    """[(provider id, is the default)] of every key provider registered in vCenter, in one call: ListKmsClusters
    (API 7.0: standard KMIP, trust authority and native key providers), else ListKmipServers (KMIP clusters)."""
    manager = conn.content.cryptoManager
    if not isinstance(manager, vim.encryption.CryptoManagerKmip):
        return []
    try:
        infos = conn.call(manager.ListKmsClusters, includeKmsServers=False)
    except (vmodl.fault.MethodNotFound, vmodl.fault.NotSupported, AttributeError):
        infos = conn.call(manager.ListKmipServers)
    return [(info.clusterId.id, bool(getattr(info, "useAsDefault", False))) for info in infos or []]


class VMEncryption(VMController):
    name = "vmEncryption"
    order = 150
    spec_key = "encryption"
    properties = ("config.keyId", "runtime.powerState")

    def prefetch(self, conn: Connection, states: list[ObjectState], desired: Mapping[str, Mapping[FieldPath, Any]]) -> None:
        """The key providers, once per plan (one call), only if some VM must be encrypted."""
        if not any(d.get(REQUIRED) for d in desired.values()):
            return
        clusters = key_providers(conn)
        for state in states:
            state.own(self.name)["key_provider"] = choose_provider(clusters, desired.get(state.ref.moid, {}).get(PROVIDER))

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        if not desired.get(REQUIRED) or state.props.get("config.keyId") is not None:
            return []
        provider, reason = state.own(self.name).get("key_provider", (None, "key providers were not read"))
        diff = FieldDiff(REQUIRED, False, True, subject=f"key provider {provider}" if provider else "",
                         impact=Impact.POWER_CYCLE)
        if provider is None:
            return [FieldDiff(REQUIRED, False, True, impact=Impact.POWER_CYCLE, skip=Skip.UNSUPPORTED,
                              message=f"the VM is not encrypted and cannot be: {reason}")]
        return [gate(diff, state, desired)]

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        provider, _ = state.own(self.name)["key_provider"]
        manager = conn.content.cryptoManager
        result = conn.call(manager.GenerateKey, keyProvider=vim.encryption.KeyProviderId(id=provider))
        if not getattr(result, "success", True) or result.keyId is None:
            raise RuntimeError(f"key provider {provider} did not generate a key: {getattr(result, 'reason', '')}")
        reconfigure(conn, state.mo, config_spec(crypto=vim.encryption.CryptoSpecEncrypt(cryptoKeyId=result.keyId)))
