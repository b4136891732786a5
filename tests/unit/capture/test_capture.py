"""`vsr capture`'s document: values from the reference object's results (its own value where it differs, the
desired one where it passes), control IDs on every line, unsupported and conflicting fields left out with why,
per-subject differences noted; the text validates with `vsr validate`. (Against the simulator:
tests/integration/test_evidence.py.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "report"))

from report_fixtures import HOST, build_report  # noqa: E402

from reconciler import capture  # noqa: E402
from reconciler.cli import main  # noqa: E402
from reconciler.report.model import FAIL, FieldResult, Row  # noqa: E402

EXPECTED_BODY = """\
apiVersion: vsr.dev/v1alpha1
kind: HostSecurityPolicy
metadata:
  name: captured-esx-01
  labels: {vsr.dev/captured-from: esx-01}
spec:
  selector: {hosts: [esx-*]}
  enforcement: Audit
  advancedSettings:
    Mem.ShareForceSalting: 0  # esxi-8.transparent-page-sharing, ESXI-80-000213, esx-9.transparent-page-sharing, VCFE-9X-000064
    UserVars.DcuiTimeOut: 600  # esxi-8.dcui-timeout, ESXI-80-000196, esx-9.dcui-timeout, VCFE-9X-000201
  networkSecurity:
    allowPromiscuous: true  # esxi-8.network-reject-promiscuous-mode-standardswitch, ESXI-80-000218, esx-9.network-standard-reject-promiscuous-mode, VCFE-9X-000221; differs per subject: vSwitch vSwitch0 true, vSwitch vSwitch1 false; the first is captured
  services:
    TSM-SSH:
      policy: 'off'  # esxi-8.deactivate-ssh, ESXI-80-000193, esx-9.ssh, VCFE-9X-000096
      running: true  # esxi-8.deactivate-ssh, ESXI-80-000193, esx-9.ssh, VCFE-9X-000096
"""


def _host_rows() -> list[Row]:
    rows = [r for r in build_report().rows if r.object == HOST]
    promiscuous = next(r for r in rows if r.control_id.endswith("promiscuous-mode-standardswitch"))
    promiscuous.fields.append(FieldResult(("networkSecurity", "allowPromiscuous"), "pass", False, False,
                                          subject="vSwitch vSwitch1"))
    rows.append(Row(HOST, "advancedSettings.Net.Conflicting", (), "", [FieldResult(
        ("advancedSettings", "Net.Conflicting"), FAIL, None, None, reason="conflict", message="a and b differ")]))
    return rows


def test_the_draft_names_controls_and_says_what_it_left_out():
    text = capture.render(capture.collect(_host_rows()), "HostSystem", "esx-01", capture.policy_name("esx-01"),
                          ["esx-*"], "Audit", "the fields the specs set", "T")
    header, body = text.split("apiVersion:", 1)
    assert "apiVersion:" + body == EXPECTED_BODY
    assert header.splitlines()[-3:] == [
        "# Left out:", "#   advancedSettings.Custom.Key: not offered by esx-01: advanced setting 'Custom.Key' does "
        "not exist on host esx-01", "#   advancedSettings.Net.Conflicting: conflicting policies: value not read"]


def test_the_draft_validates(tmp_path, capsys):
    draft = tmp_path / "captured.yaml"
    draft.write_text(capture.render(capture.collect(_host_rows()), "HostSystem", "esx-01", "captured-esx-01",
                                    ["esx-*"], "Enforce", "the fields the specs set", "T"))
    assert main(["validate", str(draft)]) == 0, capsys.readouterr()


def test_policy_names_are_metadata_names():
    assert capture.policy_name("DC0_C0_H0") == "captured-dc0-c0-h0"
    assert capture.policy_name("ESX 01.lab.example") == "captured-esx-01-lab-example"


def test_unknown_baseline_is_an_error(tmp_path, capsys):
    code = main(["capture", "esx-01", str(tmp_path), "--baseline", "nope", "--journal", str(tmp_path / "j.db")])
    assert code == 1 and "--baseline nope: no such baseline directory" in capsys.readouterr().err


@pytest.fixture(autouse=True)
def restore_logging():
    """`vsr` run in-process binds structlog to this test's captured stderr; put it back for later tests."""
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def test_a_section_the_spec_would_refuse_is_left_out_with_the_reason():
    from reconciler import capture

    found = capture.Captured(values={("vmkServices", "management"): ["vmk0"], ("vmkServices", "vmotion"): ["vmk0"],
                                     ("ntp", "servers"): ["ntp1.lab"]})
    capture.drop_invalid(found, "HostSystem")
    assert found.values == {("ntp", "servers"): ["ntp1.lab"]}
    assert "not a valid spec" in found.left_out[("vmkServices",)] and "management" in found.left_out[("vmkServices",)]
