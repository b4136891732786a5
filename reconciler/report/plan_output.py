"""Rendering a run's plans for people (text: identical changes grouped across objects, or every object with
`--detail`) and for machines (one JSON document with stable field names, also as YAML)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from reconciler.engine.runner import RunResult
from reconciler.engine.types import Change, Outcome, render_path
from reconciler.report.escape import console as _c
from reconciler.report.grouping import Group, group, marker, noun, summary, value_text
from reconciler.report.yaml_out import to_yaml

MAX_LISTED = 20
_MARK = {Outcome.APPLIED: "fixed", Outcome.NOT_EFFECTIVE: "NOT EFFECTIVE", Outcome.FAILED: "FAILED",
         Outcome.SKIPPED: "skipped", Outcome.UNKNOWN: "unknown: not verified"}
ARROW = "→"
_COLOURS = {"+": "32", "~": "33", "-": "31", "!": "2", "error": "31", "bold": "1", "dim": "2", "warning": "33"}


class _Paint:
    """ANSI colour when wanted (a terminal without --no-color/NO_COLOR), plain text otherwise."""

    def __init__(self, on: bool) -> None:
        self.on = on

    def __call__(self, text: str, style: str) -> str:
        code = _COLOURS.get(style)
        return f"\x1b[{code}m{text}\x1b[0m" if self.on and code else text


def _tags(change: Change, applied: bool) -> list[str]:
    tags = []
    if change.reason is not None:
        tags.append(change.reason.value)
    if applied and change.outcome is not Outcome.PLANNED:
        tags.append(_MARK[change.outcome])
    if change.impact.value != "none":
        tags.append(f"impact {change.impact.value}")
    return tags


def _style(mark: str, outcome: Outcome) -> str:
    return "error" if outcome in (Outcome.FAILED, Outcome.NOT_EFFECTIVE) else mark


def _line(change: Change, applied: bool, paint: _Paint) -> str:
    where = f" [{_c(change.subject)}]" if change.subject else ""
    mark = marker(change)
    text = (f"  {paint(mark, _style(mark, change.outcome))} {_c(render_path(change.path))}{where}: "
            f"{_c(value_text(change.current))} {ARROW} {_c(value_text(change.desired))}")
    tags = _tags(change, applied)
    if tags:
        text += f"  ({', '.join(tags)})"
    detail = change.error or change.message
    if detail:
        text += f"\n      {_c(detail)}"
    if change.source:
        text += f"\n      from {_c(change.policy)} at {_c(change.source)}"
    if change.controls:
        text += f"\n      controls: {_c(', '.join(change.controls))}"
    return text


def _group_lines(entry: Group, applied: bool, paint: _Paint) -> list[str]:
    tags = [t for t in entry.tags if applied or t not in ("fixed", "not effective", "failed", "skipped",
                                                            "not verified")]
    head = (f"{paint(entry.mark, _style(entry.mark, entry.outcome))} {noun(entry.type, entry.count)}: "
            f"{_c(entry.label)} {_c(entry.current)} {ARROW} {_c(entry.desired)}"
            + (f"  ({', '.join(tags)})" if tags else "") + f" — {_c(entry.names_text())}")
    out = [head]
    about = []
    if entry.policy:
        source = entry.changes[0].source
        about.append(f"policy {_c(entry.policy)}" + (f" at {_c(source)}" if source else ""))
    if entry.controls:
        about.append(f"controls {_c(', '.join(entry.controls))}")
    if about:
        out.append(paint("    " + "; ".join(about), "dim"))
    if entry.message:
        out.append(f"    {_c(entry.message)}")
    return out


def render_text(result: RunResult, applied: bool = False, detail: bool = False, color: bool = False,
                notes: Iterable[str] = ()) -> str:
    """The plan (or, with `applied`, what an apply did) for people: identical changes grouped across objects,
    or with `detail` every object and field; then a summary line."""
    paint = _Paint(color)
    out: list[str] = []
    for issue in result.spec_issues:
        out.append(paint("error", "error") + f": {_c(issue)}" if issue.is_error else paint("warning", "warning")
                   + f": {_c(issue)}")
    for error in result.connection_errors + result.journal_errors:
        out.append(paint("error", "error") + f": {_c(error)}")
    for vplan in result.plans:
        for note in vplan.plan.notes:
            out.append(f"note: {_c(vplan.vcenter)}: {_c(note)}")
    changes = [c for p in result.plans for c in p.plan.changes]
    if detail:
        for vplan in result.plans:
            by_object: dict[Any, list[Change]] = defaultdict(list)
            for change in vplan.plan.changes:
                by_object[change.object].append(change)
            for obj, found in sorted(by_object.items(), key=lambda kv: (kv[0].type, kv[0].name)):
                out.append(paint(_c(f"{obj.type} {obj.name} ({obj.moid}, {vplan.vcenter})"), "bold"))
                out.extend(_line(c, applied, paint) for c in found)
    else:
        for entry in group(changes):
            out.extend(_group_lines(entry, applied, paint))
    for vplan in result.plans:
        for problem in vplan.plan.problems:
            out.append(paint("error", "error")
                       + _c(f": {problem.object.type} {problem.object.name}: {problem.message}"))
        for kind, label in (("HostSystem", "host(s)"), ("VirtualMachine", "VM(s)")):
            names = sorted(r.name for r in vplan.plan.unmanaged if r.type == kind)
            if names:
                shown = ", ".join(names[:MAX_LISTED]) + (f", ... ({len(names) - MAX_LISTED} more)"
                                                         if len(names) > MAX_LISTED else "")
                out.append(_c(f"unmanaged ({vplan.vcenter}): {len(names)} {label} matched by no policy: {shown}"))
    out.extend(_c(n) for n in notes)
    objects = sum(p.plan.objects_checked for p in result.plans)
    if result.plans:
        out.append(paint(summary(changes, applied, objects), "bold"))
    else:
        out.append("nothing checked")
    invalid = _invalid_documents(result)
    if invalid:
        out.append(f"{len(invalid)} document(s) failed to load and were left out: {_c(', '.join(invalid))}"
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


def document(result: RunResult, strict: bool = False, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `-o json` (and `-o yaml`) document; its field names are a stable contract (docs/reports.md)."""
    doc = {
        "apiVersion": "vsr.dev/v1alpha1",
        "kind": "Plan",
        "exitCode": result.exit_code(strict),
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
        **(extra or {}),
    }
    return doc


def render_json(result: RunResult, strict: bool = False, extra: dict[str, Any] | None = None) -> str:
    return json.dumps(document(result, strict, extra), indent=2, default=str) + "\n"


def render_yaml(result: RunResult, strict: bool = False, extra: dict[str, Any] | None = None) -> str:
    return to_yaml(document(result, strict, extra))


def render(result: RunResult, fmt: str, *, applied: bool = False, detail: bool = False, color: bool = False,
           strict: bool = False, notes: Iterable[str] = (), extra: dict[str, Any] | None = None) -> str:
    """A plan in `fmt` (text, json or yaml)."""
    if fmt == "json":
        return render_json(result, strict, extra)
    if fmt == "yaml":
        return render_yaml(result, strict, extra)
    return render_text(result, applied=applied, detail=detail, color=color, notes=notes)
