"""`enableLogging`: config.flags.enableLogging, the VM writes its vmware.log. Accepted on a running VM (impact
none)."""

from __future__ import annotations

from typing import Any

from pyVmomi import vim

from reconciler.controllers.contract import ObjectState
from reconciler.controllers.vm_common import config_spec
from reconciler.controllers.vm_options import VMOption


class VMLogging(VMOption):
    name = "vmLogging"
    order = 112
    spec_key = "enableLogging"
    properties = ("config.flags",)

    def current(self, state: ObjectState) -> Any:
        flags = state.props.get("config.flags")
        value = getattr(flags, "enableLogging", None)
        return None if value is None else bool(value)

    def spec(self, value: Any) -> Any:
        return config_spec(flags=vim.vm.FlagInfo(enableLogging=bool(value)))
