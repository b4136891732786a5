"""Rendering a run's plans for people (text grouped by object, current -> desired per field) and for machines
(one JSON document with stable field names)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from reconciler.engine.recording import short_value
from reconciler.engine.runner import RunResult
from reconciler.engine.types import Change, Outcome, render_path
from reconciler.report.escape import console as _c

MAX_LISTED = 20
_MARK = {Outcome.APPLIED: "fixed", Outcome.NOT_EFFECTIVE: "NOT EFFECTIVE", Outcome.FAILED: "FAILED",
         Outcome.SKIPPED: "skipped", Outcome.UNKNOWN: "unknown: not verified"}


def _line(change: Change, applied: bool) -> str:
    where = f" [{_c(change.subject)}]" if change.subject else ""
    text = (f"    {_c(render_path(change.path))}{where}: {_c(short_value(change.current))} -> "
            f"{_c(short_value(change.desired))}")
    tags = []
    if change.reason is not None:
        tags.append(change.reason.value)
    if applied and change.outcome is not Outcome.PLANNED:
        tags.append(_MARK[change.outcome])
    if change.impact.value != "none":
        tags.append(f"impact {change.impact.value}")
    if tags:
        text += f"  ({', '.join(tags)})"
    detail = change.error or change.message
    if detail:
        text += f"\n        {_c(detail)}"
    if change.source:
        text += f"\n        from {_c(change.policy)} at {_c(change.source)}"
    if change.controls:
        text += f"\n        controls: {_c(', '.join(change.controls))}"
    return text


def render_text(result: RunResult, applied: bool = False) -> str:
    out: list[str] = []
    for issue in result.spec_issues:
        out.append(f"{'error' if issue.is_error else 'warning'}: {_c(issue)}")
    for error in result.connection_errors + result.journal_errors:
        out.append(f"error: {_c(error)}")
    drift = fixed = waived = 0
    for vplan in result.plans:
        plan = vplan.plan
        by_object: dict[Any, list[Change]] = defaultdict(list)
        for change in plan.changes:
            by_object[change.object].append(change)
        for note in plan.notes:
            out.append(f"note: {_c(vplan.vcenter)}: {_c(note)}")
        for obj, changes in sorted(by_object.items(), key=lambda kv: (kv[0].type, kv[0].name)):
            out.append(_c(f"{obj.type} {obj.name} ({obj.moid}, {vplan.vcenter})"))
            out.extend(_line(c, applied) for c in changes)
        for problem in plan.problems:
            out.append(_c(f"error: {problem.object.type} {problem.object.name}: {problem.message}"))
        for kind, label in (("HostSystem", "host(s)"), ("VirtualMachine", "VM(s)")):
            names = sorted(r.name for r in plan.unmanaged if r.type == kind)
            if names:
                shown = ", ".join(names[:MAX_LISTED]) + (f", ... ({len(names) - MAX_LISTED} more)"
                                                         if len(names) > MAX_LISTED else "")
                out.append(_c(f"unmanaged ({vplan.vcenter}): {len(names)} {label} matched by no policy: {shown}"))
        drift += len(plan.drift)
        fixed += sum(1 for c in plan.changes if c.outcome is Outcome.APPLIED)
        waived += sum(1 for c in plan.changes if c.reason is not None and c.reason.value == "waived")
    objects = sum(p.plan.objects_checked for p in result.plans)
    summary = f"{objects} object(s) checked, {drift} drifted field(s)"
    if applied:
        summary += f", {fixed} fixed"
    if waived:
        summary += f", {waived} waived"
    out.append(summary if (drift or fixed or result.plans) else "nothing checked")
    invalid = _invalid_documents(result)
    if invalid:
        out.append(f"{len(invalid)} document(s) failed to load and were left out: {', '.join(invalid)}"
                   + ("" if applied else "; `vsr apply` refuses until they are fixed (or --allow-invalid)"))
    return "\n".join(out) + "\n"


def _invalid_documents(result: RunResult) -> list[str]:
    """`file:line Kind/name` (or `file:line` for a file that does not parse) of each document with an error."""
    seen: dict[tuple[str, ...], str] = {}
    for issue in result.spec_errors:
        if issue.kind and issue.name:
            where = f"{issue.file}:{issue.line} {issue.kind}/{issue.name}"
            seen.setdefault((issue.file, issue.kind, issue.name), where)
        else:
            seen.setdefault((issue.file, str(issue.line)), f"{issue.file}:{issue.line}")
    return list(seen.values())


def render_json(result: RunResult) -> str:
    doc = {
        "apiVersion": "vsr.dev/v1alpha1",
        "kind": "Plan",
        "exitCode": result.exit_code(),
        "specIssues": [i.to_dict() for i in result.spec_issues],
        "connectionErrors": result.connection_errors,
        "journalErrors": result.journal_errors,
        "changes": [c.as_dict() for p in result.plans for c in p.plan.changes],
        "problems": [{"object": pr.object.to_dict(), "controller": pr.controller or None, "message": pr.message}
                     for p in result.plans for pr in p.plan.problems],
        "unmanaged": [r.to_dict() for p in result.plans for r in p.plan.unmanaged],
        "notes": [f"{p.vcenter}: {note}" for p in result.plans for note in p.plan.notes],
        "summary": {
            "objects": sum(p.plan.objects_checked for p in result.plans),
            "drift": sum(len(p.plan.drift) for p in result.plans),
            "applied": sum(1 for p in result.plans for c in p.plan.changes if c.outcome is Outcome.APPLIED),
            "unknown": sum(1 for p in result.plans for c in p.plan.changes if c.outcome is Outcome.UNKNOWN),
        },
    }
    return json.dumps(doc, indent=2, default=str) + "\n"
