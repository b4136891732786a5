"""STIG Viewer checklists: `-o cklb` validates against a JSON Schema of the published CKLB 1.0 structure (STIG
Viewer 3: root, target_data, stigs[], rules[] with their fields and types, the four statuses), `-o ckl` has the
STIG Viewer 2 element structure; statuses, finding details and comments come from vsr's results, waivers and
attestations; one file per host / VM."""

from __future__ import annotations

import datetime as dt
import json
import types
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from checklist_schema import CKLB_SCHEMA, VULN_ATTRIBUTES
from report_fixtures import FIXED, build_run

from reconciler.cli import main
from reconciler.engine.attestations import AttestationRule
from reconciler.report import ckl, cklb, model


def _attested_report(expires: dt.date = dt.date(2099, 1, 1)) -> model.Report:
    """The fixture run plus an attestation of the ESXi DCUI account rule (ESXI-80-000249, esxcli-only)."""
    run = build_run()
    rule = AttestationRule("dcui-users", {"hosts": ["esx-*"]}, ("ESXI-80-000249",), "DCUI.Access reviewed",
                           "https://tickets.example.com/SEC-7", "sec@example.com", expires, source="att.yaml:1")
    run.specs = types.SimpleNamespace(attestations=[rule], documents=[])
    report = model.build(run, today=dt.date(2026, 11, 22))
    report.generated = FIXED
    return report


@pytest.fixture(scope="module")
def docs() -> dict[str, dict]:
    return {name: json.loads(text) for name, text in cklb.render_all(_attested_report())}


def _rule(doc: dict, stig_id: str) -> dict:
    return next(r for s in doc["stigs"] for r in s["rules"] if r["rule_version"] == stig_id)


def test_one_cklb_per_host_and_vm_each_valid_against_the_published_schema(docs):
    assert sorted(docs) == ["lab_db-01_vm-2.cklb", "lab_esx-01_host-1.cklb", "lab_web-01_vm-1.cklb"]
    checker = jsonschema.Draft202012Validator(CKLB_SCHEMA, format_checker=jsonschema.FormatChecker())
    for name, doc in docs.items():
        errors = sorted(checker.iter_errors(doc), key=str)
        assert not errors, (name, errors[:3])
        for stig in doc["stigs"]:
            assert stig["size"] == len(stig["rules"]) > 0
            assert {r["stig_uuid"] for r in stig["rules"]} == {stig["uuid"]}
    host = docs["lab_esx-01_host-1.cklb"]
    assert [s["stig_id"] for s in host["stigs"]] == ["VMW_vSphere_8-0_ESXi_STIG", "VMW_VCF_9-x_ESX_STIG"]
    assert host["target_data"]["host_name"] == "esx-01" and "cluster DC0_C0" in host["target_data"]["comments"]


def test_the_schema_rejects_what_stig_viewer_would_not_read(docs):
    doc = json.loads(json.dumps(docs["lab_esx-01_host-1.cklb"]))
    doc["stigs"][0]["rules"][0]["status"] = "pass"
    del doc["target_data"]["host_name"]
    doc["id"] = "esx-01"
    checker = jsonschema.Draft202012Validator(CKLB_SCHEMA, format_checker=jsonschema.FormatChecker())
    messages = {e.message for e in checker.iter_errors(doc)}
    assert messages == {"'pass' is not one of ['not_reviewed', 'not_a_finding', 'open', 'not_applicable']",
                        "'host_name' is a required property", "'esx-01' is not a 'uuid'"}


def test_rule_statuses_details_and_comments_come_from_the_results(docs):
    host = docs["lab_esx-01_host-1.cklb"]
    ssh = _rule(host, "ESXI-80-000193")  # TSM-SSH running drifts, policy passes
    assert ssh["status"] == "open" and ssh["group_id"] == ssh["rule_id"] == "ESXI-80-000193"
    assert ("fail: esxi-8.deactivate-ssh: services.TSM-SSH.running: current true, desired false "
            "(spec specs/scg-8/host.yaml:16, policy scg-8-host)") in ssh["finding_details"]
    assert "NIST 800-53r5 AC-17(04), CM-07; PCI DSS 4.0.1 2.2.4" == ssh["ia_controls"]
    assert _rule(host, "ESXI-80-000196")["status"] == "not_a_finding"  # DCUI timeout passes
    tps = _rule(host, "ESXI-80-000213")  # waived: an accepted risk stays open, the waiver in the comments
    assert tps["status"] == "open" and tps["comments"] == "waived: waived by tps-lab until 2027-03-31 (ops@example.com): lab"
    dcui = _rule(host, "ESXI-80-000249")
    assert dcui["status"] == "not_a_finding"
    assert "not measured by vsr; attested by dcui-users (sec@example.com) until 2099-01-01" in dcui["finding_details"]
    unset = _rule(host, "ESXI-80-000111")  # account unlock time: no spec sets it in the fixture
    assert unset["status"] == "not_reviewed" and unset["finding_details"] == ""
    assert unset["comments"].startswith("not set by the specs")
    settings = _rule(host, "ESXI-80-000236")  # /etc/vmware/settings: only a shell reaches it
    assert settings["status"] == "not_reviewed"
    assert settings["comments"].startswith("ESXI-80-000236: vsr cannot assess it (shell)")
    vm = docs["lab_web-01_vm-1.cklb"]
    assert _rule(vm, "VMCH-80-000189")["status"] == "open"  # pending a cold start: not effective yet


def test_an_expired_attestation_is_not_reviewed():
    doc = json.loads(dict(cklb.render_all(_attested_report(dt.date(2020, 1, 31))))["lab_esx-01_host-1.cklb"])
    dcui = _rule(doc, "ESXI-80-000249")
    assert dcui["status"] == "not_reviewed" and "EXPIRED on 2020-01-31" in dcui["comments"]


def test_stig_filter_limits_the_stigs_and_rules_written():
    files = dict(cklb.render_all(_attested_report(), ["VCFE-9X-*"]))
    assert list(files) == ["lab_esx-01_host-1.cklb"]
    doc = json.loads(files["lab_esx-01_host-1.cklb"])
    assert [s["stig_id"] for s in doc["stigs"]] == ["VMW_VCF_9-x_ESX_STIG"]
    assert all(r["rule_version"].startswith("VCFE-9X-") for r in doc["stigs"][0]["rules"])
    assert _rule(doc, "VCFE-9X-000096")["status"] == "open"  # esx-9.ssh, measured by the SCG 8 field


def test_ckl_has_the_stig_viewer_2_structure_and_the_same_verdicts(docs):
    files = dict(ckl.render_all(_attested_report()))
    assert sorted(files) == ["lab_db-01_vm-2.ckl", "lab_esx-01_host-1.ckl", "lab_web-01_vm-1.ckl"]
    root = ET.fromstring(files["lab_esx-01_host-1.ckl"])
    assert root.tag == "CHECKLIST" and [c.tag for c in root] == ["ASSET", "STIGS"]
    assert root.findtext("ASSET/HOST_NAME") == "esx-01" and root.findtext("ASSET/ASSET_TYPE") == "Computing"
    istigs = root.findall("STIGS/iSTIG")
    assert [i.findtext("STIG_INFO/SI_DATA[SID_NAME='stigid']/SID_DATA") for i in istigs] == [
        "VMW_vSphere_8-0_ESXi_STIG", "VMW_VCF_9-x_ESX_STIG"]
    statuses = {}
    for vuln in root.iter("VULN"):
        assert [d.findtext("VULN_ATTRIBUTE") for d in vuln.findall("STIG_DATA")] == VULN_ATTRIBUTES
        assert [c.tag for c in vuln][-5:] == ["STATUS", "FINDING_DETAILS", "COMMENTS", "SEVERITY_OVERRIDE",
                                              "SEVERITY_JUSTIFICATION"]
        statuses[vuln.findtext("STIG_DATA[VULN_ATTRIBUTE='Rule_Ver']/ATTRIBUTE_DATA")] = vuln.findtext("STATUS")
    names = {"open": "Open", "not_a_finding": "NotAFinding", "not_reviewed": "Not_Reviewed"}
    cklb_host = docs["lab_esx-01_host-1.cklb"]
    assert statuses == {r["rule_version"]: names[r["status"]] for s in cklb_host["stigs"] for r in s["rules"]}
    assert statuses["ESXI-80-000213"] == "Open" and statuses["ESXI-80-000249"] == "NotAFinding"


def test_several_checklists_need_an_output_directory(tmp_path, capsys, monkeypatch):
    """Without a connection the report has no host: exit 1 and nothing to write; the option errors are checked
    here, the files against the simulator (tests/integration/test_evidence.py)."""
    monkeypatch.delenv("VSR_SERVER", raising=False)
    (tmp_path / "p.yaml").write_text("apiVersion: vsr.dev/v1alpha1\nkind: HostSecurityPolicy\nmetadata: {name: p}\n"
                                     "spec:\n  selector: {hosts: ['*']}\n  services: {TSM-SSH: {running: false}}\n")
    code = main(["report", str(tmp_path / "p.yaml"), "-o", "cklb", "--out-dir", str(tmp_path / "out"),
                 "--journal", str(tmp_path / "j.db")])
    err = capsys.readouterr().err
    assert code == 1 and f"{tmp_path / 'out'}: 0 checklist(s) (cklb)" in err and "error: no connection" in err
    assert list((tmp_path / "out").iterdir()) == []
