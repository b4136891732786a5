"""`vsr validate` and `vsr schema`, and the generated specs/schema files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.api.models import KINDS
from reconciler.api.schema import ALL_KINDS_FILE, all_kinds_schema, schema_files, stale_schemas
from reconciler.cli import main

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).parent
SCHEMA_DIR = ROOT / "specs" / "schema"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_valid_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "validate", str(HERE / "valid" / "design.yaml"))
    assert code == 0 and out == "" and "4 valid document(s)" in err


def test_validate_warnings_do_not_fail(capsys: pytest.CaptureFixture[str]) -> None:
    path = HERE / "corpus" / "39-warnings-expired-waiver-empty-selector.yaml"
    code, out, _ = run(capsys, "validate", str(path))
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2 and all(line.endswith("(warning)") for line in lines)
    assert lines[1].startswith(f"{path}:9:3: Waiver/old: spec.expires: waiver expired")


def test_validate_invalid_exit_1_one_issue_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    path = HERE / "corpus" / "22-conflict-equal-priority.yaml"
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:6:24: HostSecurityPolicy/ssh-on: spec.services.TSM-SSH.running: conflicts")


def test_validate_json(capsys: pytest.CaptureFixture[str]) -> None:
    path = HERE / "corpus" / "40-broken-doc-keeps-others.yaml"
    code, out, _ = run(capsys, "validate", "-o", "json", str(path))
    doc = json.loads(out)
    assert code == 1 and doc["valid"] is False and doc["errors"] == 1
    assert [d["name"] for d in doc["documents"]] == ["lab", "good"]
    assert doc["issues"] == [{
        "file": str(path), "line": 20, "column": 14, "kind": "HostSecurityPolicy", "name": "bad",
        "path": "spec.lockdown.mode", "message": "must be 'disabled', 'normal' or 'strict', got 'total'",
        "severity": "error"}]


def test_validate_several_paths_and_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "validate", str(HERE / "valid" / "design.yaml"), str(tmp_path / "nope"))
    assert code == 1 and "no such file or directory" in out


def test_schema_prints_all_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    schema = json.loads(out)
    assert code == 0 and schema["oneOf"] == [{"$ref": f"#/$defs/{k}"} for k in KINDS]
    for kind in KINDS:
        props = schema["$defs"][kind]["properties"]
        assert props["kind"]["const"] == kind and props["apiVersion"]["const"] == "vsr.dev/v1alpha1"
        assert schema["$defs"][kind]["additionalProperties"] is False
    code, out, _ = run(capsys, "schema", "--kind", "Waiver")
    assert json.loads(out)["properties"]["kind"]["const"] == "Waiver"


def test_schema_write_and_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "schema", "--write", str(tmp_path))
    assert code == 0 and sorted(p.name for p in tmp_path.iterdir()) == sorted(schema_files())
    assert run(capsys, "schema", "--check", str(tmp_path))[0] == 0
    (tmp_path / ALL_KINDS_FILE).write_text("{}\n")
    code, _, err = run(capsys, "schema", "--check", str(tmp_path))
    assert code == 1 and ALL_KINDS_FILE in err


def test_generated_schema_files_are_up_to_date() -> None:
    """specs/schema/ must be regenerated (`make schema`) whenever the models change."""
    assert stale_schemas(SCHEMA_DIR) == [], "run: vsr schema --write specs/schema"
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.json")) == sorted(schema_files())


def test_schema_accepts_examples_and_rejects_unknown_fields() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml
    validator = jsonschema.Draft202012Validator(all_kinds_schema())
    for doc in yaml.safe_load_all((HERE / "valid" / "design.yaml").read_text()):
        doc = json.loads(json.dumps(doc, default=str))
        assert list(validator.iter_errors(doc)) == []
        doc["spec"]["colour"] = "blue"
        assert list(validator.iter_errors(doc))


def test_commands_are_registered(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "validate" in out and "schema" in out
