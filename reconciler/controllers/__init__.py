"""Controllers, one per kind of setting. `ALL` is the registry the engine iterates, in apply order.

A controller registers itself: every concrete `Controller` subclass defined in a module of this package is found
(the modules are imported with `pkgutil`) and ordered by its `order`. The values in use keep the apply order of the
hardening guides:

    host (HostSecurityPolicy): services 10, firewall 20, firewallDefaultPolicy 25 (after the rulesets),
                               advancedSettings 30, vswitchSecurity 40, vgt 45, vmkServices 47,
                               dvPortgroupSecurity 50, iscsi 55, ntp 60, acceptanceLevel 65, snmp 70,
                               esxcli-backed 71-79 (sshServer 71, fips140 72, tls 73, hostEncryption 74,
                               keyPersistence 76, logFiltering 77, shellAccess 78, kernel 79), activeDirectory 75,
                               certificate 80, hardware 81 (audit only), localAccounts 82, sshAuthorizedKeys 85, lockdown 90
                               (last: applied after every other host setting, as the STIG scripts do)
    VM (VMSecurityPolicy):     vmAdvancedSettings 110, vmLogging 112, vmMigrateEncryption 114, vmFtEncryption 116, vmDevices 120 (before
                               the hardware upgrade and encryption,
                               as the SCG scripts order them), vmSecureBoot 130, vmHardwareVersion 140,
                               vmEncryption 150, vmVirtualTPM 160, vmGuestTools 170 (inside the guest: tools.conf)
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from reconciler.controllers.base import Controller

#: modules of this package that hold no controller (the contract and shared helpers)
_NOT_CONTROLLERS = frozenset({"base", "contract"})


def discover() -> tuple[Controller, ...]:
    """One instance of every concrete controller class in this package, ordered by (`order`, `name`)."""
    found: dict[str, type[Controller]] = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name in _NOT_CONTROLLERS:
            continue
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        for _, cls in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(cls, Controller) and not inspect.isabstract(cls) and cls.__module__ == loaded.__name__:
                found[cls.__qualname__] = cls
    classes = list(found.values())
    for cls in classes:
        if not isinstance(getattr(cls, "order", None), int):
            raise TypeError(f"controller {cls.__module__}.{cls.__qualname__} declares no `order: ClassVar[int]`")
    return tuple(cls() for cls in sorted(classes, key=lambda c: (c.order, c.name)))


ALL: tuple[Controller, ...] = discover()


def for_kind(policy_kind: str) -> list[Controller]:
    return [c for c in ALL if c.policy_kind == policy_kind]


__all__ = ["ALL", "Controller", "discover", "for_kind"]
