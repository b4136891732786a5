"""`vsr report -o json`: one JSON document with stable field names (see docs/reports.md)."""

from __future__ import annotations

import json
from typing import Any

from reconciler.report import frameworks, scope
from reconciler.report.model import Report


def document(report: Report) -> dict[str, Any]:
    return {
        "apiVersion": "vsr.dev/v1alpha1",
        "kind": "ComplianceReport",
        "generated": report.generated.isoformat(timespec="seconds"),
        "vsrVersion": report.version,
        "exitCode": report.exit_code,
        "summary": {"objects": report.objects, "results": len(report.rows), **report.counts},
        "scope": report.scope,
        "coverage": report.coverage,
        "compliance": scope.compliance(report.rows, report.scope.get("baselines", [])),
        "byControl": [c.as_dict() for c in report.by_control()],
        "byFramework": {name: frameworks.grouped(report.rows, name) for name in frameworks.GROUPINGS},
        "results": [r.as_dict() for r in report.rows],
        "problems": report.problems,
        "specIssues": [i.to_dict() for i in report.spec_issues],
        "connectionErrors": report.connection_errors,
    }


def render(report: Report) -> str:
    return json.dumps(document(report), indent=2, default=str) + "\n"


def render_yaml(report: Report) -> str:
    """The same document as `-o json`, as YAML."""
    from reconciler.report.yaml_out import to_yaml

    return to_yaml(document(report))
