"""Model helpers: thumbprints, server parsing, strictness, managed fields, selector overlap, waiver fields."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from reconciler.api import (
    HostSecurityPolicySpec,
    HostSelector,
    VMSecurityPolicySpec,
    VMSelector,
    field_matches,
    managed_fields,
    same_objects,
)
from reconciler.api.fields import check_waiver_field
from reconciler.api.models import split_server
from reconciler.thumbprint import normalize_thumbprint as normalise_thumbprint

SHA256 = "ab" * 32


def test_thumbprint_normalised_to_upper_colon_form() -> None:
    expected = ":".join(["AB"] * 32)
    assert normalise_thumbprint(SHA256) == expected
    assert normalise_thumbprint(":".join(["ab"] * 32)) == expected
    with pytest.raises(ValueError, match="SHA-1"):
        normalise_thumbprint("ab" * 20)
    with pytest.raises(ValueError, match="32 bytes"):
        normalise_thumbprint("ab" * 31)
    with pytest.raises(ValueError, match="hex"):
        normalise_thumbprint("zz" * 32)


def test_split_server() -> None:
    assert split_server("vcsa") == ("vcsa", 443)
    assert split_server("vcsa.example.com:8443") == ("vcsa.example.com", 8443)
    assert split_server("[2001:db8::1]:444") == ("2001:db8::1", 444)
    with pytest.raises(ValueError):
        split_server("vcsa:")


@pytest.mark.parametrize("field,value", [
    ("suspend", "false"), ("suspend", 0), ("priority", "1"), ("priority", True), ("priority", 1.5),
    ("enforcement", "enforce"), ("vcenter", 7),
])
def test_strict_no_coercion(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        HostSecurityPolicySpec.model_validate({field: value})


def test_unknown_and_snake_case_fields_rejected() -> None:
    with pytest.raises(ValidationError):
        HostSecurityPolicySpec.model_validate({"advanced_settings": {}})
    with pytest.raises(ValidationError):
        HostSecurityPolicySpec.model_validate({"colour": "blue"})
    assert HostSecurityPolicySpec.model_validate({"advancedSettings": {"a": 1}}).advanced_settings == {"a": 1}


def test_vm_advanced_settings_refuse_floats() -> None:
    with pytest.raises(ValidationError):
        VMSecurityPolicySpec.model_validate({"advancedSettings": {"a": 1.5}})
    spec = VMSecurityPolicySpec.model_validate({"advancedSettings": {"a": "TRUE", "b": True, "c": 3}})
    assert [type(v) for v in spec.advanced_settings.values()] == [str, bool, int]


def test_managed_fields() -> None:
    spec = HostSecurityPolicySpec.model_validate({
        "services": {"TSM-SSH": {"running": False}},
        "firewall": {"sshServer": {"allowedIPs": ["10.0.0.0/8"]}, "ntpClient": {"enabled": True}},
        "advancedSettings": {"Mem.ShareForceSalting": 2},
        "networkSecurity": {"allowPromiscuous": False, "excludePortgroups": ["x"]},
        "priority": 3,
    })
    assert managed_fields(spec) == {
        ("services", "TSM-SSH", "running"): False,
        ("firewall", "sshServer", "allowedIPs"): ["10.0.0.0/8"],
        ("firewall", "ntpClient", "enabled"): True,
        ("advancedSettings", "Mem.ShareForceSalting"): 2,
        ("networkSecurity", "allowPromiscuous"): False,
    }
    vm = VMSecurityPolicySpec.model_validate({"secureBoot": True, "devices": {"usb": "absent"},
                                              "encryption": {"required": True}, "allowFirmwareChange": True})
    assert managed_fields(vm) == {("secureBoot",): True, ("devices", "usb"): "absent",
                                  ("encryption", "required"): True}


@pytest.mark.parametrize("a,b,expected", [
    ({"hosts": ["*"]}, {"hosts": ["*"]}, True),
    ({"hosts": ["e1", "e2"]}, {"hosts": ["e2", "e1", "e1"]}, True),  # order and repeats do not matter
    ({"hosts": ["*", "e1"]}, {"hosts": ["*"]}, True),  # a list holding * matches every host either way
    ({"clusters": ["Prod"], "exclude": ["e9"]}, {"clusters": ["Prod"], "exclude": ["e9"]}, True),
    # every host vs hosts that may not exist: the defect of issue 12 item 8 (both were dropped)
    ({"clusters": ["*"]}, {"hosts": ["no-such-host-*"]}, False),
    ({"clusters": ["*"]}, {"hosts": ["esx1"]}, False),  # esx1 may be standalone, or not exist
    ({"clusters": ["Prod"]}, {"clusters": ["Prod"], "hosts": ["e1"]}, False),  # e1 may not be in Prod
    ({"clusters": ["*"]}, {"hosts": ["*"]}, False),  # a standalone host has no cluster
    ({"clusters": ["Prod"]}, {"hosts": ["e1"]}, False),
    ({"hosts": ["e1", "e2"]}, {"hosts": ["e2", "e3"]}, False),
    ({"hosts": ["e1", "e2"]}, {"hosts": ["e2"]}, False),
    ({"hosts": ["*"]}, {"hosts": ["*"], "exclude": ["e9"]}, False),
    ({"hosts": ["*"], "exclude": ["*"]}, {"hosts": ["*"], "exclude": ["*"]}, False),  # both match nothing
    ({"hosts": []}, {"hosts": []}, False),  # an empty selector matches nothing
    ({"datacenters": ["DC1"]}, {"datacenters": ["DC2"]}, False),
])
def test_same_objects_only_when_certain(a: dict, b: dict, expected: bool) -> None:
    assert same_objects(HostSelector(**a), HostSelector(**b)) is expected
    assert same_objects(HostSelector(**b), HostSelector(**a)) is expected


def test_vm_selector_templates_must_agree() -> None:
    assert not same_objects(VMSelector(vms=["*"]), VMSelector(vms=["*"], templates=True))
    assert same_objects(VMSelector(vms=["*"], templates=True), VMSelector(vms=["*"], templates=True))
    assert not same_objects(VMSelector(vms=["*"]), VMSelector(vms=["web-*"]))


def test_empty_selector() -> None:
    assert HostSelector().is_empty() and HostSelector(hosts=[], exclude=["x"]).is_empty()
    assert not HostSelector(datacenters=["*"]).is_empty()
    assert VMSelector(templates=True).is_empty() and not VMSelector(folders=["f"]).is_empty()


def test_waiver_field_patterns() -> None:
    assert field_matches("services.TSM-SSH.*", ("services", "TSM-SSH", "running"))
    assert field_matches("networkSecurity", ("networkSecurity", "allowPromiscuous"))
    assert field_matches("advancedSettings.Mem.ShareForceSalting", ("advancedSettings", "Mem.ShareForceSalting"))
    assert not field_matches("services.TSM.*", ("services", "TSM-SSH", "running"))
    assert not field_matches("lockdown.mode", ("lockdown", "exceptionUsers"))
    assert check_waiver_field("services.TSM-SSH.*") is None and check_waiver_field("secureBoot") is None
    assert "names no setting" in check_waiver_field("service.TSM-SSH.*")


def test_waiver_is_active() -> None:
    from reconciler.api import Waiver
    waiver = Waiver.model_validate({
        "apiVersion": "vsr.dev/v1alpha1", "kind": "Waiver", "metadata": {"name": "w"},
        "spec": {"fields": ["lockdown.mode"], "reason": "r", "owner": "o", "expires": dt.date(2027, 1, 1),
                 "selector": {"hosts": ["h"]}}})
    assert waiver.is_active(dt.date(2026, 12, 31)) and waiver.is_active(dt.date(2027, 1, 1))
    assert not waiver.is_active(dt.date(2027, 1, 2))


@pytest.mark.parametrize("pattern,problem", [
    ("services.TSM-SSH.runing", "after services.TSM-SSH comes one of: running, policy"),
    ("lockdown.mod", "after lockdown comes one of: mode, exceptionUsers"),
    ("networkSecurity.excludePortgroups", "names no setting"),
    ("secureBoot.enabled", "has no sub-fields"),
    ("firewall.sshServer.allowedIPs.0", "too long"),
])
def test_waiver_field_typos(pattern: str, problem: str) -> None:
    assert problem in (check_waiver_field(pattern) or "")


@pytest.mark.parametrize("pattern", ["services", "services.TSM-SSH", "services.*.running", "firewall.*",
                                     "advancedSettings.Syslog.global.logHost", "devices.usb", "encryption.*", "*"])
def test_waiver_field_valid(pattern: str) -> None:
    assert check_waiver_field(pattern) is None
