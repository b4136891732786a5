"""Framework IDs in reports: every row carries its SCG 8 / SCG 9 / STIG / NIST 800-53r5 / PCI DSS IDs from the
catalog; `--filter KEY=GLOB` narrows the report (and its exit code); JSON groups by NIST family and PCI
requirement; HTML has the framework filter box and the group-by selector (checked in chromium when installed)."""

from __future__ import annotations

import json

import pytest
from report_fixtures import build_run
from test_html import browser, needs_chromium  # noqa: F401  (fixture)

from reconciler.cli import main
from reconciler.report import frameworks, html, json_report, markdown, model


def _filtered(*texts: str, strict: bool = False) -> model.Report:
    return model.build(build_run(), strict=strict, filters=[frameworks.parse_filter(t) for t in texts])


def test_every_result_carries_its_framework_ids(report):
    doc = json_report.document(report)
    ssh = next(r for r in doc["results"] if r["control"] == "esxi-8.deactivate-ssh")
    assert ssh["frameworks"] == {"scg8": ["esxi-8.deactivate-ssh"], "scg9": ["esx-9.ssh"],
                                 "stig": ["ESXI-80-000193", "VCFE-9X-000096"], "nist": ["AC-17(04)", "CM-07"],
                                 "pci": ["2.2.4"]}
    uncatalogued = next(r for r in doc["results"] if r["control"] == "advancedSettings.Custom.Key")
    assert uncatalogued["frameworks"] == {k: [] for k in frameworks.FRAMEWORKS}


def test_nist_filter_keeps_the_family_and_ignores_leading_zeros():
    assert [r.control_id for r in _filtered("nist=AC-*").rows] == [
        "esxi-8.dcui-timeout", "esxi-8.deactivate-ssh", "esxi-8.network-reject-promiscuous-mode-standardswitch"]
    assert [r.control_id for r in _filtered("nist=ac-17(4)").rows] == ["esxi-8.deactivate-ssh"]


def test_filters_of_one_key_are_alternatives_and_different_keys_all_apply():
    assert {r.control_id for r in _filtered("pci=8.*", "pci=1.4.*").rows} == {
        "esxi-8.dcui-timeout", "esxi-8.network-reject-promiscuous-mode-standardswitch"}
    assert [r.control_id for r in _filtered("nist=CM-*", "stig=VMCH-80-*").rows] == [
        "vm-8.deactivate-console-copy", "vm-8.deactivate-non-essential-3d-features"]
    assert [r.control_id for r in _filtered("control=ESXI-80-000193").rows] == ["esxi-8.deactivate-ssh"]


def test_a_filtered_report_exits_on_its_own_rows():
    passing = _filtered("nist=AC-12")  # the DCUI timeout passes on esx-01
    assert [r.status for r in passing.rows] == ["pass"] and passing.exit_code == 0
    assert _filtered("nist=AC-04").exit_code == 2  # promiscuous mode drifts
    pending = _filtered("stig=VMCH-80-000189")  # pending: drift only with --strict
    assert [r.status for r in pending.rows] == ["pending"]
    assert (pending.exit_code, _filtered("stig=VMCH-80-000189", strict=True).exit_code) == (0, 2)
    assert passing.scope["filters"] == ["nist=AC-12"]


def test_json_groups_results_by_nist_family_and_pci_requirement(report):
    doc = json.loads(json_report.render(report))
    ac = next(e for e in doc["byFramework"]["nist"] if e["group"] == "AC")
    assert ac == {"group": "AC", "ids": ["AC-04", "AC-12", "AC-17(04)"],
                  "controls": ["esxi-8.dcui-timeout", "esxi-8.deactivate-ssh",
                               "esxi-8.network-reject-promiscuous-mode-standardswitch"],
                  "results": 3, "percent": pytest.approx(33.3), "pass": 1, "attested": 0, "waived": 0,
                  "unsupported": 0, "pending": 0, "fail": 2}
    assert [e["group"] for e in doc["byFramework"]["pci"]] == ["1", "2", "3", "8", "10"]  # numeric order


def test_markdown_group_by_adds_the_pci_table(report):
    report.group_by = "pci"
    text = markdown.render(report)
    assert "## Compliance by PCI DSS 4.0.1 requirement" in text
    assert "| 8 | 8.2.8 | 100.0% | 1 | 0 | 0 | 0 | 0 | 0 |" in text


def test_bad_filter_is_an_error_naming_the_keys(tmp_path, capsys):
    code = main(["report", str(tmp_path), "--filter", "iso=A.5", "--journal", str(tmp_path / "j.db")])
    assert code == 1
    assert "--filter 'iso=A.5': expected KEY=GLOB with KEY one of scg8, scg9, stig, nist, pci, control" in \
        capsys.readouterr().err


def test_html_rows_carry_framework_ids_and_the_page_has_the_controls(report):
    text = html.render(report)
    assert 'data-nist="AC-17(04) CM-07" data-pci="2.2.4"' in text
    assert 'id="f-fw"' in text and 'id="f-group"' in text
    assert '<table class="groups" id="group-nist" data-group="nist" hidden>' in text
    assert 'data-filter="pci=8.*"' in text


@needs_chromium
def test_chromium_applies_framework_filter_and_grouping(browser, report):  # noqa: F811
    dom = browser.dom("#status=all&fw=nist%3DAC-*&group=pci")
    assert [a["data-control"] for a in dom.shown()] == [  # AC rows, ordered by PCI requirement (1, 2, 8)
        "esxi-8.network-reject-promiscuous-mode-standardswitch", "esxi-8.deactivate-ssh", "esxi-8.dcui-timeout"]
    assert "hidden" not in dom.elements["group-pci"] and "hidden" in dom.elements["group-nist"]
    assert dom.text["view"] == ("Showing 3 of 9 result(s): status all, framework nist=AC-*, grouped by pci")
