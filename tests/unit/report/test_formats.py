"""Each report format's required structure: JSON stable fields, JUnit XML shape, SARIF 2.1.0 required fields
and rule/result links, Markdown tables."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from reconciler.report import json_report, junit, markdown, sarif
from reconciler.report.model import STATUSES

from report_fixtures import build_report

RESULT_FIELDS = {"object", "control", "controls", "frameworks", "title", "status", "path", "current", "desired", "impact",
                 "reason", "message", "policy", "source", "fields"}


def test_json_stable_fields(report):
    doc = json.loads(json_report.render(report))
    assert doc["apiVersion"] == "vsr.dev/v1alpha1" and doc["kind"] == "ComplianceReport"
    assert doc["exitCode"] == 2 and doc["generated"] == "2026-11-22T03:00:00+00:00"
    assert set(doc["summary"]) == {"objects", "results", *STATUSES}
    assert sum(doc["summary"][s] for s in STATUSES) == doc["summary"]["results"] == len(doc["results"])
    for result in doc["results"]:
        assert set(result) == RESULT_FIELDS
        assert set(result["object"]) == {"type", "moid", "name", "vcenter"}
        assert result["status"] in STATUSES
        for f in result["fields"]:
            assert set(f) == {"path", "subject", "status", "current", "desired", "impact", "reason", "message",
                              "policy", "source"}
    ssh = next(r for r in doc["results"] if r["control"] == "esxi-8.deactivate-ssh")
    assert ssh["controls"] == ["esxi-8.deactivate-ssh", "ESXI-80-000193", "esx-9.ssh", "VCFE-9X-000096"]
    assert (ssh["path"], ssh["source"], ssh["policy"]) == ("services.TSM-SSH.running", "specs/scg-8/host.yaml:16",
                                                           "scg-8-host")
    controls = {c["id"]: c for c in doc["byControl"]}
    assert controls["esxi-8.deactivate-ssh"]["counts"]["fail"] == 1
    assert controls["esxi-8.deactivate-ssh"]["source"] == "SCG 8, DISA STIG V2R3, seed 000"


def test_junit_shape(report):
    root = ET.fromstring(junit.render(report))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    cases = root.findall("testsuite/testcase")
    assert len(cases) == len(report.rows) == int(root.get("tests"))
    assert int(root.get("failures")) == len(root.findall(".//failure")) == report.counts["fail"]
    assert int(root.get("skipped")) == len(root.findall(".//skipped")) == (
        report.counts["waived"] + report.counts["unsupported"] + report.counts["pending"])
    assert root.get("errors") == "0"
    for suite in suites:
        assert {"name", "tests", "failures", "errors", "skipped", "timestamp"} <= set(suite.attrib)
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))
    by_name = {c.get("name").split(":")[0]: c for c in cases if c.get("classname") == "vsr.HostSystem.esx-01"}
    failure = by_name["esxi-8.deactivate-ssh [ESXI-80-000193, esx-9.ssh, VCFE-9X-000096]"].find("failure")
    assert failure is not None and "services.TSM-SSH.running" in failure.get("message")
    tps = "esxi-8.transparent-page-sharing [ESXI-80-000213, esx-9.transparent-page-sharing, VCFE-9X-000064]"
    assert by_name[tps].find("skipped").get("message").startswith("waived")
    assert by_name["esxi-8.dcui-timeout [ESXI-80-000196, esx-9.dcui-timeout, VCFE-9X-000201]"].find("failure") is None


def test_junit_reports_run_errors_as_errors():
    root = ET.fromstring(junit.render(build_report(problem=True)))
    errors = root.findall(".//error")
    assert root.get("errors") == "1" and len(errors) == 1 and "esx-09" in errors[0].get("message")


def test_sarif_required_fields_and_links(report, tmp_path):
    doc = sarif.document(report, root=Path.cwd())
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "vsr" and driver["version"]
    rules = driver["rules"]
    assert len({r["id"] for r in rules}) == len(rules) == len(report.by_control())
    for rule in rules:
        assert rule["shortDescription"]["text"] and rule["defaultConfiguration"]["level"] == "error"
    failing = [r for r in report.rows if r.status in ("fail", "waived")]
    assert len(run["results"]) == len(failing)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"].startswith("specs/scg-8/")
        assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert physical["region"]["startLine"] >= 1
        assert location["logicalLocations"][0]["fullyQualifiedName"].startswith("lab/")
    ssh = next(r for r in run["results"] if r["ruleId"] == "esxi-8.deactivate-ssh")
    assert ssh["level"] == "error" and ssh["locations"][0]["physicalLocation"]["region"]["startLine"] == 16
    waived = next(r for r in run["results"] if r["ruleId"] == "esxi-8.transparent-page-sharing")
    assert waived["suppressions"][0]["kind"] == "external"
    assert "ESXI-80-000193" in next(r for r in rules if r["id"] == "esxi-8.deactivate-ssh")["properties"]["tags"]
    json.dumps(doc)  # serialisable


def test_sarif_source_outside_the_working_directory(tmp_path):
    assert sarif.split_source("/etc/vsr/specs/a.yaml:12") == ("/etc/vsr/specs/a.yaml", 12)
    assert sarif.split_source("a.yaml") == ("a.yaml", 1)
    assert sarif.artifact_uri("/etc/vsr/a.yaml", root=tmp_path) == {"uri": "file:///etc/vsr/a.yaml"}
    assert sarif.artifact_uri(str(tmp_path / "s" / "a.yaml"), root=tmp_path) == {"uri": "s/a.yaml",
                                                                                 "uriBaseId": "%SRCROOT%"}


def test_markdown(report):
    text = markdown.render(report, detail=True)  # the per-result table is behind --detail (issue 14)
    assert text.startswith("# vsr compliance report")
    assert "| `esxi-8.deactivate-ssh` | esxi-8.deactivate-ssh, ESXI-80-000193, esx-9.ssh, VCFE-9X-000096 |" in text
    assert "`services.TSM-SSH.running` | `true` | `false`" in text
    assert "## Results that do not pass" in text and "dcui-timeout` |" in text  # the controls table lists passes
