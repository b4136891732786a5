"""`vsr report` wiring without vSphere: errors give exit code 1 and still produce the report."""

from __future__ import annotations

import json

from reconciler.cli import main

POLICY = """apiVersion: vsr.dev/v1alpha1
kind: HostSecurityPolicy
metadata: {name: p}
spec:
  selector: {hosts: ["*"]}
  services: {TSM-SSH: {running: false}}
"""


def test_report_without_a_connection_is_an_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("VSR_SERVER", raising=False)
    (tmp_path / "p.yaml").write_text(POLICY)
    code = main(["report", str(tmp_path / "p.yaml"), "-o", "json", "--journal", str(tmp_path / "j.db")])
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert code == 1 == doc["exitCode"]
    assert doc["connectionErrors"] and doc["results"] == []
    assert "error: no connection" in captured.err


def test_report_to_a_file(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("VSR_SERVER", raising=False)
    (tmp_path / "p.yaml").write_text(POLICY.replace("running: false", "running: maybe"))
    out = tmp_path / "out" / "report.xml"
    code = main(["report", str(tmp_path / "p.yaml"), "-o", "junit", "--file", str(out),
                 "--journal", str(tmp_path / "j.db")])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert out.read_text().startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')
    assert f"{out}: 0 object(s), no results" in captured.err
    assert "spec.services.TSM-SSH.running" in out.read_text()  # the spec error is an <error> test case
