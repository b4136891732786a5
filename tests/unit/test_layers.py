"""Layers point one way: controllers import nothing of the engine or the daemon, the engine imports the controller
registry and contract but never a specific control nor the daemon, vsphere knows neither."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from reconciler import controllers as registry

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"


def imports_of(package: str) -> list[tuple[str, str]]:
    """(file, imported module) for every import in `reconciler/<package>/`."""
    out = []
    for path in sorted((PACKAGE / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.append((path.name, node.module))
                out.extend((path.name, f"{node.module}.{a.name}") for a in node.names)
            elif isinstance(node, ast.Import):
                out.extend((path.name, a.name) for a in node.names)
    return out


@pytest.mark.parametrize("package,forbidden", [
    ("controllers", ("reconciler.engine", "reconciler.daemon", "reconciler.commands")),
    ("engine", ("reconciler.daemon", "reconciler.commands")),
    ("vsphere", ("reconciler.engine", "reconciler.daemon", "reconciler.controllers", "reconciler.api")),
])
def test_no_import_against_the_layers(package, forbidden):
    bad = [(f, m) for f, m in imports_of(package) if m.startswith(forbidden)]
    assert not bad


def test_the_engine_imports_the_registry_never_a_control():
    def names_a_control(module: str) -> bool:
        parts = module.split(".")
        return (len(parts) > 2 and parts[2] not in ("base", "contract")
                and (PACKAGE / "controllers" / f"{parts[2]}.py").exists())

    bad = [(f, m) for f, m in imports_of("engine") if m.startswith("reconciler.controllers") and names_a_control(m)]
    assert not bad


def test_registry_discovers_every_controller_in_apply_order():
    names = [c.name for c in registry.ALL]
    assert names == ["services", "firewall", "firewallDefaultPolicy", "advancedSettings", "vswitchSecurity", "vgt",
                     "vmkServices", "dvPortgroupSecurity", "iscsi", "ntp", "acceptanceLevel", "snmp",
                     "sshServer", "fips140", "tls", "hostEncryption", "activeDirectory", "keyPersistence",
                     "logFiltering", "shellAccess", "kernel", "certificate", "hardware", "localAccounts",
                     "sshAuthorizedKeys", "lockdown",
                     "vmAdvancedSettings", "vmLogging", "vmMigrateEncryption", "vmFtEncryption", "vmDevices", "vmSecureBoot",
                     "vmHardwareVersion", "vmEncryption", "vmVirtualTPM", "vmGuestTools",
                     "vcenterSwitches", "vcenterPortgroups", "vcenterAdvancedSettings", "vcenterKeyProvider"]
    host = [c for c in registry.ALL if c.policy_kind == "HostSecurityPolicy"]
    assert host[-1].name == "lockdown"
    orders = [c.order for c in registry.ALL]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    assert registry.discover() and [c.name for c in registry.discover()] == names
