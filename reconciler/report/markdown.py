"""`vsr report -o markdown`: fits a pull-request comment. A summary (scope, counts, compliance, failing
controls, results that do not pass grouped across objects); `--detail` adds every such result, one per line."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from reconciler.report import frameworks, scope
from reconciler.report.escape import markdown as _cell
from reconciler.report.escape import markdown_code as _code
from reconciler.report.grouping import NAMES_SHOWN, natural_key, noun
from reconciler.report.model import PASS, Report
from reconciler.report.text import short

MAX_GROUPS = 200


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def _scope_lines(report: Report) -> list[str]:
    sc, cov = report.scope, report.coverage
    rev = sc.get("specRevision") or {}
    revision = rev.get("git") or rev.get("digest") or "unknown"
    if rev.get("dirty"):
        revision += " (with uncommitted changes)"
    base = ", ".join(f"{b['name']} {b['version']}" for b in sc.get("baselines", [])) or "none"
    out = [f"Scope: vCenter(s) {_cell(', '.join(sc.get('vcenters', [])) or 'none')}; spec revision {_code(revision)}; "
           f"baselines: {base}" + (f"; filters {', '.join(_code(f) for f in sc['filters'])}" if sc.get("filters")
                                   else "") + ".", ""]
    if cov:
        out += [f"Coverage: {cov['objectsChecked']} object(s) checked, {cov['objectsUncovered']} matched by no "
                f"policy; {cov['controlsAssessed']} control(s) assessed, {cov['controlsNotInSpecs']} not set by "
                f"the specs, {cov['controlsNotAssessable']} not assessable by vsr (docs/controls.md says why).", ""]
        for u in cov.get("unmatchedPolicies", []):
            out.append(f"- policy {_code(u['name'])} ({_cell(u['kind'])}, {_cell(u['source'])}): its selector matches no object")
        if cov.get("unmatchedPolicies"):
            out.append("")
    return out


def _compliance_lines(report: Report) -> list[str]:
    comp = scope.compliance(report.rows, report.scope.get("baselines", []))
    rows = [("overall", comp["overall"])] + [(f"baseline {e['name']}", e) for e in comp["byBaseline"]] + \
        [(f"family {e['name']}", e) for e in comp["byFamily"]]
    out = ["## Compliance", "", "| scope | compliance | pass | fail | pending | waived | unsupported |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for label, e in rows:
        out.append(f"| {_cell(label)} | {_pct(e['percent'])} | {e['pass']} | {e['fail']} | {e['pending']} | "
                   f"{e['waived']} | {e['unsupported']} |")
    return out + [""]


def _framework_lines(report: Report) -> list[str]:
    """`--group-by nist|pci`: compliance per NIST 800-53r5 family or PCI DSS requirement."""
    if not report.group_by:
        return []
    label = frameworks.GROUPINGS[report.group_by]
    out = [f"## Compliance by {label}", "", f"| {label} | IDs | compliance | pass | fail | pending | waived | "
           "unsupported | attested |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for e in frameworks.grouped(report.rows, report.group_by):
        out.append(f"| {_cell(e['group'])} | {_cell(', '.join(e['ids']))} | {_pct(e['percent'])} | {e['pass']} | "
                   f"{e['fail']} | {e['pending']} | {e['waived']} | {e['unsupported']} | {e['attested']} |")
    return out + [""]


def _grouped(report: Report) -> list[str]:
    groups: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for row in report.rows:
        for f in row.fields:
            if f.status != PASS:
                groups[(row.object.type, row.control_id, f.status, f.label, short(f.current, 40),
                        short(f.desired, 40))].append(row.object)
    out = ["| objects | control | status | field | current → desired |", "|---|---|---|---|---|"]
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0][1], kv[0][3]))
    for (type_, control, status, label, current, desired), objects in ordered[:MAX_GROUPS]:
        names = sorted({o.name for o in objects}, key=natural_key)
        shown = ", ".join(f"{_code(n)}" for n in names[:NAMES_SHOWN])
        more = f", … +{len(names) - NAMES_SHOWN}" if len(names) > NAMES_SHOWN else ""
        out.append(f"| {noun(type_, len(names))}: {shown}{more} | {_code(control)} | {status} | {_code(label)} | "
                   f"{_code(current)} → {_code(desired)} |")
    if len(ordered) > MAX_GROUPS:
        out.append(f"\n{len(ordered) - MAX_GROUPS} more group(s); `vsr report -o markdown --detail` lists them.")
    return out


def render(report: Report, detail: bool = False) -> str:
    counts = report.counts
    out = ["# vsr compliance report", "",
           f"Generated {report.generated.isoformat(timespec='seconds')} by vsr {report.version}: "
           f"{report.objects} object(s), {len(report.rows)} result(s), exit code {report.exit_code}.", ""]
    out += _scope_lines(report)
    out += ["| " + " | ".join(counts) + " |", "|" + "---:|" * len(counts),
            "| " + " | ".join(str(v) for v in counts.values()) + " |", ""]
    if report.errors:
        out += ["## Errors", ""] + [f"- {_cell(e)}" for e in report.errors] + [""]
    out += _compliance_lines(report)
    out += _framework_lines(report)
    summaries = report.by_control()
    failing_controls = [s for s in summaries if s.status != PASS]
    out += ["## Controls that do not pass" if not detail else "## Controls", "",
            "| control | IDs | title | status | " + " | ".join(counts) + " |",
            "|---|---|---|---|" + "---:|" * len(counts)]
    for s in (summaries if detail else failing_controls):
        out.append(f"| {_code(s.id)} | {_cell(', '.join(s.controls))} | {_cell(s.title)} | **{s.status}** | "
                   + " | ".join(str(s.counts[k]) for k in counts) + " |")
    failing = [r for r in report.rows if r.status != PASS]
    out += ["", "## Results that do not pass", ""]
    if not failing:
        out.append("Every result passes.")
        return "\n".join(out) + "\n"
    out += _grouped(report)
    if not detail:
        out += ["", f"{len(failing)} result(s) on {len({(r.object.vcenter, r.object.moid) for r in failing})} "
                "object(s); `--detail` lists each one."]
        return "\n".join(out) + "\n"
    out += ["", "## Every result that does not pass", "",
            "| object | control | status | field | current | desired | detail |", "|---|---|---|---|---|---|---|"]
    for row in failing:
        for f in row.fields:
            if f.status == PASS:
                continue
            text = f.message + (f" ({f.source})" if f.source else "")
            out.append(f"| {_cell(row.object.type)} {_code(row.object.name)} | {_code(row.control_id)} | {f.status} | "
                       f"{_code(f.label)} | {_code(short(f.current))} | {_code(short(f.desired))} | "
                       f"{_cell(text)} |")
    return "\n".join(out) + "\n"
