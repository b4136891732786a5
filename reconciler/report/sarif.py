"""`vsr report -o sarif`: SARIF 2.1.0 for code-scanning UIs. One rule per control, one result per failing
object x control, located at the spec file and line that asked for the setting (`Change.source`), with the
object as a logical location. Waived rows are results with an external suppression (their waiver)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.report.model import FAIL, WAIVED, ControlSummary, Report, Row
from reconciler.report.text import short

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
CONTROLS_DOC = "docs/controls.md (vsr documentation)"


def split_source(source: str) -> tuple[str, int]:
    """`file:line` -> (file, line); a source without a line points at line 1."""
    file, _, line = source.rpartition(":")
    if file and line.isdigit():
        return file, int(line)
    return source, 1


def artifact_uri(file: str, root: Path | None = None) -> dict[str, str]:
    """Relative to the working directory (SARIF's %SRCROOT%) when the file is below it, else a file: URI."""
    root = root or Path.cwd()
    path = Path(file)
    absolute = path if path.is_absolute() else (root / path)
    try:
        return {"uri": absolute.resolve().relative_to(root.resolve()).as_posix(), "uriBaseId": "%SRCROOT%"}
    except ValueError:
        return {"uri": absolute.resolve().as_uri()}


def _rule(summary: ControlSummary) -> dict[str, Any]:
    c = summary.control
    text = summary.title
    help_text = (f"{text}\nControls: {', '.join(summary.controls) or summary.id}."
                 + (f"\nDesired (SCG 8): {c.desired}." if c else "")
                 + (f"\nDesired (STIG): {c.stig_value}." if c and c.stig_value else "")
                 + f"\nSee {CONTROLS_DOC}.")
    return {
        "id": summary.id,
        "name": summary.id.replace(".", "_").replace("-", "_").replace("#", "_"),
        "shortDescription": {"text": text},
        "fullDescription": {"text": help_text},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["security", *summary.controls], "source": c.source if c else "",
                       "impact": c.impact if c else "none"},
    }


def _result(row: Row, index: int, root: Path | None) -> dict[str, Any]:
    lead = row.lead
    file, line = split_source(lead.source) if lead.source else ("", 1)
    where = f"{row.object.type} {row.object.name} ({row.object.vcenter})"
    text = (f"{where}: {row.title} — {lead.label} is {short(lead.current)}, wants {short(lead.desired)}"
            + (f" ({lead.message})" if lead.message else ""))
    result: dict[str, Any] = {
        "ruleId": row.control_id,
        "ruleIndex": index,
        "level": "error" if row.status == FAIL else "note",
        "kind": "fail",
        "message": {"text": text},
        "locations": [{
            **({"physicalLocation": {"artifactLocation": artifact_uri(file, root), "region": {"startLine": line}}}
               if file else {}),
            "logicalLocations": [{"name": row.object.name, "kind": "resource",
                                  "fullyQualifiedName": f"{row.object.vcenter}/{row.object.type}/{row.object.moid}"}],
        }],
        "partialFingerprints": {"vsrObjectControl/v1": f"{row.object.vcenter}/{row.object.moid}/{row.control_id}"},
        "properties": {"status": row.status, "controls": list(row.controls), "object": row.object.to_dict(),
                       "current": row.as_dict()["current"], "desired": row.as_dict()["desired"],
                       "policy": lead.policy},
    }
    if row.status == WAIVED:
        result["suppressions"] = [{"kind": "external", "justification": lead.message or "waived"}]
    return result


def document(report: Report, root: Path | None = None) -> dict[str, Any]:
    root = root or Path.cwd()
    summaries = report.by_control()
    index = {s.id: i for i, s in enumerate(summaries)}
    results = [_result(r, index[r.control_id], root) for r in report.rows if r.status in (FAIL, WAIVED)]
    notifications = [{"level": "error", "message": {"text": e}} for e in report.errors]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "vsr", "fullName": "vsr - vSphere security reconciler",
                                "version": report.version, "semanticVersion": report.version,
                                "rules": [_rule(s) for s in summaries]}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root.resolve().as_uri() + "/"}},
            "invocations": [{"executionSuccessful": not report.errors, "exitCode": report.exit_code,
                             "toolExecutionNotifications": notifications}],
            "results": results,
        }],
    }


def render(report: Report) -> str:
    return json.dumps(document(report), indent=2, default=str, ensure_ascii=False) + "\n"
