"""The shipped baselines validate once their site parameters are filled, refuse to validate while unfilled
(pointing at the file and line to edit), set only settings vsr manages, and keep SCG and STIG values apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import catalog
from reconciler.api import load_texts
from reconciler.catalog import baselines

ROOT = Path(__file__).resolve().parents[3]
BASELINES = ROOT / "specs" / "baselines"
SITE = {"SYSLOG_HOSTS": '"udp://192.0.2.10:514"', "ADMIN_NETWORKS": '["192.0.2.0/24"]', "EXCEPTION_USERS": "[]",
        "BANNER": '"Authorized use only."', "ESX_ADMINS_GROUP": '"esx-admins-lab"'}
NAMES = ["home-esxi", "scg-8", "stig"]


def texts(name: str, fill: bool) -> list[tuple[str, str]]:
    files = sorted((BASELINES / name).glob("*.yaml"))
    return [(str(f), baselines.fill(f.read_text(), SITE) if fill else f.read_text()) for f in files]


def test_the_three_baselines_are_shipped():
    assert sorted(baselines.baseline_dirs(BASELINES)) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_baseline_validates_with_parameters_filled(name):
    result = load_texts(texts(name, fill=True))
    assert result.ok, [str(i) for i in result.issues]
    assert not result.warnings
    kinds = sorted(d.kind for d in result.documents)
    assert "HostSecurityPolicy" in kinds and all(d.name.startswith(name) for d in result.documents)


@pytest.mark.parametrize("name", NAMES)
def test_baseline_refuses_unfilled_parameters_naming_the_file(name):
    site = BASELINES / name / "site.yaml"
    result = load_texts(texts(name, fill=False))
    assert not result.ok
    assert {Path(i.file).name for i in result.errors} == {"site.yaml"}
    lines = site.read_text().splitlines()
    for issue in result.errors:
        assert issue.file == str(site) and "!required" in str(issue)
        assert "!required" in lines[issue.line - 1]  # the line to edit
    assert len(result.errors) == len(baselines.placeholders(site.read_text()))


@pytest.mark.parametrize("name", NAMES)
def test_baseline_sets_only_catalogued_settings_that_vsr_manages(name):
    for object_type, path in baselines.baseline_fields(BASELINES / name):
        if path[-1] in ("distributedPortgroups", "excludePortgroups"):
            continue
        control = catalog.control_for(object_type, path)
        assert control is not None, (object_type, path)
        assert control.default_enabled, f"{control.id} is off by default in the catalog"


def _values(name: str) -> dict[str, object]:
    result = load_texts(texts(name, fill=True))
    doc = next(d for d in result.documents if d.name == f"{name}-host")
    return doc.model.spec.advanced_settings


def test_scg_and_stig_keep_their_own_values():
    scg, stig = _values("scg-8"), _values("stig")
    assert (scg["Security.AccountLockFailures"], stig["Security.AccountLockFailures"]) == (5, 3)
    assert (scg["Security.PasswordMaxDays"], stig["Security.PasswordMaxDays"]) == (9999, 90)
    assert (scg["Config.HostAgent.vmacore.soap.sessionTimeout"],
            stig["Config.HostAgent.vmacore.soap.sessionTimeout"]) == (10, 30)
    assert (scg["Syslog.global.logLevel"], stig["Syslog.global.logLevel"]) == ("error", "info")
    assert "UserVars.ESXiVPsDisabledProtocols" in scg and "UserVars.ESXiVPsDisabledProtocols" not in stig


def test_baseline_values_match_the_catalog():
    """The SCG baseline uses each control's SCG value, the STIG baseline its STIG value where one is given."""
    for name in ("scg-8", "stig"):
        for key, value in _values(name).items():
            control = catalog.control_for("HostSystem", ("advancedSettings", key))
            expected = control.stig_value if name == "stig" and control.stig_value else control.desired
            if control.site_specific or expected.startswith("<"):
                continue
            assert str(value).lower().strip('"') == expected.lower().strip('"'), (name, key, value, expected)


def test_fill_refuses_a_missing_parameter():
    with pytest.raises(KeyError, match="BANNER"):
        baselines.fill("a: !required BANNER\n", {})
    assert baselines.fill("# keep !required NAME in comments\na: !required X\n", {"X": "1"}) == \
        "# keep !required NAME in comments\na: 1\n"
