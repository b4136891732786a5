"""`migrateEncryption`: config.migrateEncryption (disabled | opportunistic | required), the encrypted vMotion mode.
Accepted on a running VM and used at the next migration (impact none)."""

from __future__ import annotations

from typing import Any

from reconciler.controllers.contract import ObjectState
from reconciler.controllers.vm_common import config_spec
from reconciler.controllers.vm_options import VMOption


class VMMigrateEncryption(VMOption):
    name = "vmMigrateEncryption"
    order = 114
    spec_key = "migrateEncryption"
    properties = ("config.migrateEncryption",)

    def current(self, state: ObjectState) -> Any:
        return state.props.get("config.migrateEncryption")

    def spec(self, value: Any) -> Any:
        return config_spec(migrateEncryption=str(value))
