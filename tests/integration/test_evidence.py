"""Compliance evidence against the `-drift` simulator: STIG Viewer checklists from the scg-9 baseline (one CKLB per
host and VM, valid against the published structure; a CKL for one host), and `vsr capture` (a reference host's
live state as an editable policy that `vsr validate` accepts and that, applied to another host, converges it).
One simulator for the module: the checklist tests only read; the capture test, last, writes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from checklist_schema import CKLB_SCHEMA
from harness import Workspace
from simulator import start_simulator

from reconciler.catalog import baselines
from reconciler.cli import main as vsr_main

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SITE = {"SYSLOG_HOSTS": '"udp://192.0.2.10:514"', "ADMIN_NETWORKS": '["192.0.2.0/24", "127.0.0.1"]',
        "EXCEPTION_USERS": "[]", "BANNER": '"Authorized use only."', "ESX_ADMINS_GROUP": '"esx-admins-lab"',
        "NTP_SERVERS": '["ntp1.lab.test", "ntp2.lab.test", "ntp3.lab.test", "ntp4.lab.test"]',
        "AD_DOMAIN": '"corp.lab.test"', "CERT_ISSUERS": '["OU=VMware Engineering, CN=CA"]',
        "MANAGEMENT_VMKS": "[vmk0]", "VMOTION_VMKS": "[vmk1]", "ROOT_SSH_KEYS": "[]"}


@pytest.fixture(scope="module")
def drift_sim():
    handle = start_simulator("-drift")
    yield handle
    handle.stop()


@pytest.fixture(autouse=True)
def restore_logging():
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def scg9(tmp_path, drift_sim):
    ws = Workspace(tmp_path, drift_sim)
    for file in sorted((ROOT / "specs/baselines/scg-9").glob("*.yaml")):
        ws.write(f"scg-9-{file.name}", baselines.fill(file.read_text(), SITE))
    return ws


def test_cklb_per_host_and_vm_from_the_scg9_baseline(scg9, capsys, tmp_path):
    out = tmp_path / "checklists"
    run = scg9.vsr(capsys, "report", "-o", "cklb", "--out-dir", str(out))
    assert run.code == 2, run.err
    objects = {(r["object"]["name"], r["object"]["type"]) for r in scg9.vsr(capsys, "report").json["results"]}
    expected = {name for name, type_ in objects if type_ in ("HostSystem", "VirtualMachine")}
    files = {p.name: json.loads(p.read_text()) for p in out.glob("*.cklb")}
    assert {d["target_data"]["host_name"] for d in files.values()} == expected and len(files) == len(expected)
    assert f"{out}: {len(files)} checklist(s) (cklb)" in run.err
    checker = jsonschema.Draft202012Validator(CKLB_SCHEMA, format_checker=jsonschema.FormatChecker())
    for name, doc in files.items():
        assert not list(checker.iter_errors(doc)), name
    host = next(d for d in files.values() if d["target_data"]["host_name"] == "DC0_C0_H0")
    rules = {r["rule_version"]: r for s in host["stigs"] for r in s["rules"]}
    assert rules["VCFE-9X-000096"]["status"] == "open"  # SSH drifted on -drift hosts (an audit row of scg-9)
    assert "services.TSM-SSH.running: current true, desired false" in rules["VCFE-9X-000096"]["finding_details"]
    assert {r["status"] for r in rules.values()} == {"open", "not_a_finding", "not_reviewed"}
    password = scg9.sim.password_file.read_text().strip()
    assert all(password not in p.read_text() for p in out.iterdir())


def test_ckl_for_one_host_to_a_file(scg9, capsys, tmp_path):
    out = tmp_path / "h0.ckl"
    run = scg9.vsr(capsys, "report", "-o", "ckl", "-l", "DC0_C0_H0", "--file", str(out))
    assert run.code == 2 and f"{out}: 1 checklist (ckl)" in run.err
    root = ET.parse(out).getroot()
    assert root.findtext("ASSET/HOST_NAME") == "DC0_C0_H0"
    ssh = next(v for v in root.iter("VULN")
               if v.findtext("STIG_DATA[VULN_ATTRIBUTE='Rule_Ver']/ATTRIBUTE_DATA") == "VCFE-9X-000096")
    assert ssh.findtext("STATUS") == "Open"
    several = scg9.vsr(capsys, "report", "-o", "ckl")
    assert several.code == 1 and "give --out-dir D" in several.err


def test_capture_a_drifted_host_and_converge_another_host_to_it(drift_sim, tmp_path, capsys):
    ws = Workspace(tmp_path, drift_sim)
    draft = tmp_path / "golden.yaml"
    code = vsr_main(["capture", "DC0_C0_H0", str(ws.specs), "--baseline", "scg-9", "--select", "DC0_C0_H2",
                     "--file", str(draft), "--journal", str(ws.journal)])
    assert code == 0, capsys.readouterr().err
    text = draft.read_text()
    assert "    Mem.ShareForceSalting: 0  # esxi-8.transparent-page-sharing, ESXI-80-000213, " \
           "esx-9.transparent-page-sharing, VCFE-9X-000064\n" in text  # H0 drifted: its own value, not scg-9's 2
    assert "  selector: {hosts: [DC0_C0_H2]}\n" in text and "vsr-capture" not in text  # no probe value leaks
    assert drift_sim.password_file.read_text().strip() not in text
    assert vsr_main(["validate", str(draft)]) == 0
    ws.write("golden.yaml", text)

    before = ws.vsr(capsys, "plan")
    changes = {c["path"]: c for c in before.json["changes"] if c["object"]["name"] == "DC0_C0_H2"}
    assert before.code == 2 and {c["object"]["name"] for c in before.json["changes"]} == {"DC0_C0_H2"}
    assert (changes["advancedSettings.Mem.ShareForceSalting"]["current"],
            changes["advancedSettings.Mem.ShareForceSalting"]["desired"]) == (2, 0)  # H2 is not drifted
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0, applied.err
    after = ws.vsr(capsys, "plan")
    # H2 now looks like H0 in every scg-9 field, but for those that wait for a reboot (remediation.reboot: Never)
    assert after.code == 0
    assert {(c["reason"], c["impact"]) for c in after.json["changes"]} <= {("needsReboot", "reboot")}
    assert "vmkServices" in text.split("# Left out:")[1].split("apiVersion")[0]  # H0's vMotion shares vmk0
