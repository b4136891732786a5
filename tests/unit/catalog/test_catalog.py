"""The control catalog: every control is either mapped to spec fields vsr manages or says why not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler import catalog
from reconciler.api.fields import check_waiver_field
from reconciler.catalog import aliases, parse_path, render_path

CATEGORIES = {"esxcli", "guest", "vcenter", "shell", "no-controller", "process", "readonly", "not-expressible"}
TYPES = {"HostSystem", "VirtualMachine", "DistributedVirtualPortgroup", "DistributedVirtualSwitch", "OptionManager",
         "CryptoManagerKmip"}
SIM_OPTIONS = set(re.findall(r'\{key: "([^"]+)"', (Path(__file__).resolve().parents[3] / "sim/options.go").read_text()))


def test_catalog_has_every_reference_control_once():
    ids = [c.id for c in catalog.controls()]
    assert len(ids) == 146 + 171 and len(set(ids)) == len(ids)
    assert sum(c.guide == "scg-8" for c in catalog.controls()) == 146


def test_catalog_has_every_scg9_row_of_the_reference_csv():
    """The 171 ESX/VM/guest/vCenter rows of the VCF 9.1 SCG controls CSV, each by its SCG ID."""
    import csv
    from pathlib import Path

    source = next((d / "shared/reference/scg-9.1-controls.csv" for d in Path(__file__).resolve().parents
                   if (d / "shared/reference/scg-9.1-controls.csv").is_file()), None)
    if source is None:
        pytest.skip("the SCG 9.1 reference CSV is not beside this checkout")
    with source.open(encoding="utf-8", newline="") as fh:
        rows = {r["SCG ID"]: r for r in csv.DictReader(fh)}
    scg9 = {c.id: c for c in catalog.controls() if c.guide == "scg-9"}
    assert sorted(scg9) == sorted(rows) and len(rows) == 171
    pwd = scg9["esx-9.password-complexity"]
    assert (pwd.stig, pwd.nist, pwd.pci, pwd.action) == (("VCFE-9X-000035",), ("IA-05(01)",), ("8.3.1", "8.3.6"),
                                                         "Modify")
    assert scg9["vm-9.remove-unnecessary-devices"].stig == (
        "VCFV-9X-000215", "VCFV-9X-000214", "VCFV-9X-000216", "VCFV-9X-000217", "VCFV-9X-000218")
    assert scg9["esx-9.supported"].stig == ()


def test_scg9_import_is_current_and_repeatable():
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    spec = importlib.util.spec_from_file_location("import_scg9", root / "scripts" / "import_scg9.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    if not module.DEFAULT_CSV.is_file():
        pytest.skip("the SCG 9.1 reference CSV is not beside this checkout")
    assert module.main(["--check"]) == 0, "reconciler/catalog/scg9.yaml is stale: run scripts/import_scg9.py"
    assert module.render(module.DEFAULT_CSV) == module.render(module.DEFAULT_CSV)


def test_scg9_links_to_the_scg8_controls_it_replaces():
    by_id = catalog.by_id()
    assert by_id["esx-9.ssh"].replaces == ("esxi-8.deactivate-ssh",)
    assert by_id["esx-9.password-complexity"].replaces == ("esxi-8.account-password-policies",)
    assert by_id["esx-9.account-lockout-duration"].replaces == ("esxi-8.account-auto-unlock-time",)
    assert by_id["esx-9.ceip-disable"].replaces == ()  # new in SCG 9
    assert [c.id for c in catalog.successors("esxi-8.deactivate-ssh")] == ["esx-9.ssh"]
    for control in catalog.controls():
        assert all(r in by_id and by_id[r].guide == "scg-8" for r in control.replaces), control.id


def test_scg8_controls_get_framework_ids_through_their_scg9_link():
    ssh = catalog.by_id()["esxi-8.deactivate-ssh"]
    assert (ssh.nist, ssh.pci) == (("AC-17(04)", "CM-07"), ("2.2.4",))
    assert catalog.by_id()["esxi-8.ssh-fips"].nist == ()  # no SCG 9 successor


def test_audit_rows_are_audit_only():
    assert catalog.by_id()["esx-9.ssh"].audit_only and not catalog.by_id()["esx-9.ceip-disable"].audit_only


@pytest.mark.parametrize("control", catalog.controls(), ids=lambda c: c.id)
def test_each_control_is_managed_or_explains_why_not(control):
    assert bool(control.fields) != bool(control.unmanaged)
    if control.unmanaged:
        assert control.unmanaged.category in CATEGORIES and control.unmanaged.reason
    for ref in control.fields:
        assert ref.object_type in TYPES
        assert check_waiver_field(ref.text) is None, ref.text  # names a real spec field
    assert control.official_ids
    if control.guide == "scg-9":
        assert all(re.fullmatch(r"(esx|vm|vcenter|guest)-9\.[a-z0-9-]+", s) for s in control.scg)
        assert all(re.fullmatch(r"VCF[EVA]-9X-\d{6}", s) for s in control.stig)
        assert control.action in ("Audit", "Modify") and control.location
        for ref in control.fields:  # a host advanced option the simulator does not model is not manageable
            if ref.object_type == "HostSystem" and ref.pattern[0] == "advancedSettings":
                assert set(aliases.names(ref.pattern[1])) & SIM_OPTIONS, ref.text
    else:
        assert all(re.fullmatch(r"(esxi|vm|vcenter|guest)-8\.[a-z0-9-]+", s) for s in control.scg)
        assert all(re.fullmatch(r"(ESXI|VMCH|VCSA)-[78]0-\d{6}", s) for s in control.stig)
    assert control.impact in ("none", "powerCycle", "reboot", "disruptive")


def test_controls_for_field_paths():
    assert catalog.controls_for("HostSystem", ("advancedSettings", "Mem.ShareForceSalting")) == (
        "esxi-8.transparent-page-sharing", "ESXI-80-000213", "esx-9.transparent-page-sharing", "VCFE-9X-000064")
    assert catalog.controls_for("HostSystem", ("services", "TSM-SSH", "running")) == (
        "esxi-8.deactivate-ssh", "ESXI-80-000193", "esx-9.ssh", "VCFE-9X-000096")
    assert catalog.controls_for("HostSystem", ("firewall", "ntpClient", "allowedIPs")) == (
        "esxi-8.firewall-restrict-access", "ESXI-80-000239", "esx-9.firewall-restrict-access", "VCFE-9X-000217")
    assert catalog.controls_for("VirtualMachine", ("advancedSettings", "isolation.tools.copy.disable")) == (
        "vm-8.deactivate-console-copy", "VMCH-80-000189", "vm-9.deactivate-console-copy", "VCFV-9X-000181")
    assert catalog.controls_for("DistributedVirtualPortgroup", ("networkSecurity", "macChanges")) == (
        "vcenter-8.network-reject-mac-changes-dvportgroup", "VCSA-80-000269",
        "vcenter-9.network-reject-mac-changes-dvportgroup", "VCFA-9X-000324")
    assert catalog.controls_for("HostSystem", ("networkSecurity", "macChanges")) == (
        "esxi-8.network-reject-mac-changes-standardswitch", "ESXI-80-000217",
        "esx-9.network-standard-reject-mac-changes", "VCFE-9X-000220")
    assert catalog.controls_for("VirtualMachine", ("devices", "usb")) == (
        "vm-8.remove-unnecessary-devices", "VMCH-80-000213", "vm-9.remove-unnecessary-devices", "VCFV-9X-000215",
        "VCFV-9X-000214", "VCFV-9X-000216", "VCFV-9X-000217", "VCFV-9X-000218")
    # new in SCG 9: the SCG 9 control is the primary one
    assert catalog.controls_for("HostSystem", ("advancedSettings", "UserVars.HostClientCEIPOptIn")) == (
        "esx-9.ceip-disable",)
    assert catalog.control_for("HostSystem", ("advancedSettings", "UserVars.HostClientCEIPOptIn")).id == \
        "esx-9.ceip-disable"


def test_the_object_type_decides_between_host_and_vm_advanced_settings():
    assert catalog.controls_for("VirtualMachine", ("advancedSettings", "Mem.ShareForceSalting")) == ()
    assert catalog.controls_for("HostSystem", ("advancedSettings", "isolation.tools.copy.disable")) == ()
    assert catalog.control_for("HostSystem", ("advancedSettings", "Not.A.Control")) is None


def test_renamed_settings_map_to_the_same_control():
    old = catalog.controls_for("HostSystem", ("advancedSettings", "Syslog.global.logCheckSSLCerts"))
    new = catalog.controls_for("HostSystem", ("advancedSettings", "Syslog.global.certificate.checkSSLCerts"))
    assert old == new == ("esxi-8.logs-remote-tls", "ESXI-80-000224", "esx-9.log-forwarding-tls-ciphers")


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
    ids = ("esxi-8.transparent-page-sharing", "ESXI-80-000213", "esx-9.transparent-page-sharing", "VCFE-9X-000064")
    assert change.controls == ids
    assert change.as_dict()["controls"] == list(ids)


def test_the_fast_loader_reads_the_catalog_exactly_as_the_safe_loader():
    from importlib import resources

    import yaml

    from reconciler import catalog

    for name in catalog.DATA:
        text = resources.files("reconciler.catalog").joinpath(name).read_text(encoding="utf-8")
        assert yaml.load(text, Loader=catalog._LOADER) == yaml.safe_load(text), name
