"""The control catalog: every control is either mapped to spec fields vsr manages or says why not."""

from __future__ import annotations

import re

import pytest

from reconciler import catalog
from reconciler.api.fields import check_waiver_field
from reconciler.catalog import parse_path, render_path

CATEGORIES = {"esxcli", "guest", "vcenter", "shell", "no-controller", "process", "readonly", "not-expressible"}
TYPES = {"HostSystem", "VirtualMachine", "DistributedVirtualPortgroup"}


def test_catalog_has_every_reference_control_once():
    ids = [c.id for c in catalog.controls()]
    assert len(ids) == 146 and len(set(ids)) == 146


@pytest.mark.parametrize("control", catalog.controls(), ids=lambda c: c.id)
def test_each_control_is_managed_or_explains_why_not(control):
    assert bool(control.fields) != bool(control.unmanaged)
    if control.unmanaged:
        assert control.unmanaged.category in CATEGORIES and control.unmanaged.reason
    for ref in control.fields:
        assert ref.object_type in TYPES
        assert check_waiver_field(ref.text) is None, ref.text  # names a real spec field
    assert control.official_ids
    assert all(re.fullmatch(r"(esxi|vm|vcenter|guest)-8\.[a-z0-9-]+", s) for s in control.scg)
    assert all(re.fullmatch(r"(ESXI|VMCH|VCSA)-[78]0-\d{6}", s) for s in control.stig)
    assert control.impact in ("none", "powerCycle", "reboot", "disruptive")


def test_controls_for_field_paths():
    assert catalog.controls_for("HostSystem", ("advancedSettings", "Mem.ShareForceSalting")) == (
        "esxi-8.transparent-page-sharing", "ESXI-80-000213")
    assert catalog.controls_for("HostSystem", ("services", "TSM-SSH", "running")) == (
        "esxi-8.deactivate-ssh", "ESXI-80-000193")
    assert catalog.controls_for("HostSystem", ("firewall", "ntpClient", "allowedIPs")) == (
        "esxi-8.firewall-restrict-access", "ESXI-80-000239")
    assert catalog.controls_for("VirtualMachine", ("advancedSettings", "isolation.tools.copy.disable")) == (
        "vm-8.deactivate-console-copy", "VMCH-80-000189")
    assert catalog.controls_for("DistributedVirtualPortgroup", ("networkSecurity", "macChanges")) == (
        "vcenter-8.network-reject-mac-changes-dvportgroup", "VCSA-80-000269")
    assert catalog.controls_for("HostSystem", ("networkSecurity", "macChanges")) == (
        "esxi-8.network-reject-mac-changes-standardswitch", "ESXI-80-000217")
    assert catalog.controls_for("VirtualMachine", ("devices", "usb")) == ("vm-8.remove-unnecessary-devices",
                                                                         "VMCH-80-000213")


def test_the_object_type_decides_between_host_and_vm_advanced_settings():
    assert catalog.controls_for("VirtualMachine", ("advancedSettings", "Mem.ShareForceSalting")) == ()
    assert catalog.controls_for("HostSystem", ("advancedSettings", "isolation.tools.copy.disable")) == ()
    assert catalog.control_for("HostSystem", ("advancedSettings", "Not.A.Control")) is None


def test_renamed_settings_map_to_the_same_control():
    old = catalog.controls_for("HostSystem", ("advancedSettings", "Syslog.global.logCheckSSLCerts"))
    new = catalog.controls_for("HostSystem", ("advancedSettings", "Syslog.global.certificate.checkSSLCerts"))
    assert old == new == ("esxi-8.logs-remote-tls", "ESXI-80-000224")


@pytest.mark.parametrize("text, path", [
    ("advancedSettings.Mem.ShareForceSalting", ("advancedSettings", "Mem.ShareForceSalting")),
    ("services.TSM-SSH.running", ("services", "TSM-SSH", "running")),
    ("firewall.*.allowedIPs", ("firewall", "*", "allowedIPs")),
    ("networkSecurity.allowPromiscuous", ("networkSecurity", "allowPromiscuous")),
    ("secureBoot", ("secureBoot",)),
    ("encryption.required", ("encryption", "required")),
])
def test_parse_path_round_trips(text, path):
    assert parse_path(text) == path and render_path(path) == text


def test_plan_changes_carry_control_ids():
    from reconciler.controllers.contract import ObjectState
    from reconciler.controllers.host_advanced import HostAdvancedSettings
    from reconciler.engine import planner
    from reconciler.controllers.contract import FieldDiff
    from reconciler.engine.types import DesiredValue
    from reconciler.events.model import ObjectRef

    path = ("advancedSettings", "Mem.ShareForceSalting")
    state = ObjectState(ObjectRef("HostSystem", "host-1", "esx-01"), {})
    change = planner.label(state, HostAdvancedSettings(), FieldDiff(path, 0, 2),
                           {path: DesiredValue(2, "p", "f.yaml:3")}, [], __import__("datetime").date.today())
    assert change.controls == ("esxi-8.transparent-page-sharing", "ESXI-80-000213")
    assert change.as_dict()["controls"] == ["esxi-8.transparent-page-sharing", "ESXI-80-000213"]
