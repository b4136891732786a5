"""Controllers, one per kind of setting. `ALL` is the registry the engine iterates."""

from __future__ import annotations

from reconciler.controllers.base import ConnectionFacts, Controller, ObjectState
from reconciler.controllers.dvpg_security import DistributedPortgroupSecurity
from reconciler.controllers.host_advanced import HostAdvancedSettings
from reconciler.controllers.host_firewall import HostFirewall
from reconciler.controllers.host_lockdown import HostLockdown
from reconciler.controllers.host_network import HostNetworkSecurity
from reconciler.controllers.host_services import HostServices
from reconciler.controllers.vm_advanced import VMAdvancedSettings
from reconciler.controllers.vm_boot import VMSecureBoot
from reconciler.controllers.vm_devices import VMDevices
from reconciler.controllers.vm_encryption import VMEncryption
from reconciler.controllers.vm_hardware import VMHardwareVersion

ALL: tuple[Controller, ...] = (
    HostServices(),
    HostFirewall(),
    HostAdvancedSettings(),
    HostNetworkSecurity(),
    DistributedPortgroupSecurity(),
    HostLockdown(),  # last: lockdown is applied after every other host setting, as the STIG scripts do
    VMAdvancedSettings(),
    VMDevices(),  # before the hardware upgrade and encryption, as the SCG scripts order them
    VMSecureBoot(),
    VMHardwareVersion(),
    VMEncryption(),
)


def for_kind(policy_kind: str) -> list[Controller]:
    return [c for c in ALL if c.policy_kind == policy_kind]


__all__ = ["ALL", "ConnectionFacts", "Controller", "ObjectState", "for_kind"]
