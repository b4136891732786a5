"""`ftEncryptionMode`: config.ftEncryptionMode (ftEncryptionDisabled | ftEncryptionOpportunistic |
ftEncryptionRequired, vSphere 7.0.2+), the encryption of Fault Tolerance logging traffic. Accepted on a running
VM and used when FT is next turned on or reconfigured (impact none)."""

from __future__ import annotations

from typing import Any

from reconciler.controllers.contract import ObjectState
from reconciler.controllers.vm_common import config_spec
from reconciler.controllers.vm_options import VMOption


class VMFtEncryption(VMOption):
    name = "vmFtEncryption"
    order = 116  # beside the vMotion encryption (114)
    spec_key = "ftEncryptionMode"
    properties = ("config.ftEncryptionMode",)

    def current(self, state: ObjectState) -> Any:
        return state.props.get("config.ftEncryptionMode")

    def spec(self, value: Any) -> Any:
        return config_spec(ftEncryptionMode=str(value))
