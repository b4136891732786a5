"""`vsr report -o markdown`: a summary, a per-control table and the results that are not passing, for pull
request comments and wiki pages."""

from __future__ import annotations

from reconciler.report.escape import markdown as _cell
from reconciler.report.escape import markdown_code as _code
from reconciler.report.model import PASS, Report
from reconciler.report.text import short


def render(report: Report) -> str:
    counts = report.counts
    out = ["# vsr compliance report", "",
           f"Generated {report.generated.isoformat(timespec='seconds')} by vsr {report.version}: "
           f"{report.objects} object(s), {len(report.rows)} result(s), exit code {report.exit_code}.", "",
           "| " + " | ".join(counts) + " |", "|" + "---:|" * len(counts),
           "| " + " | ".join(str(v) for v in counts.values()) + " |", ""]
    if report.errors:
        out += ["## Errors", ""] + [f"- {_cell(e)}" for e in report.errors] + [""]
    out += ["## Controls", "", "| control | IDs | title | status | " + " | ".join(counts) + " |",
            "|---|---|---|---|" + "---:|" * len(counts)]
    for s in report.by_control():
        out.append(f"| {_code(s.id)} | {_cell(', '.join(s.controls))} | {_cell(s.title)} | **{_cell(s.status)}** | "
                   + " | ".join(str(s.counts[k]) for k in counts) + " |")
    failing = [r for r in report.rows if r.status != PASS]
    out += ["", "## Results that do not pass", ""]
    if not failing:
        out.append("Every result passes.")
    else:
        out += ["| object | control | status | field | current | desired | detail |", "|---|---|---|---|---|---|---|"]
        for row in failing:
            for f in row.fields:
                if f.status == PASS:
                    continue
                detail = f.message + (f" ({f.source})" if f.source else "")
                out.append(f"| {_cell(row.object.type)} {_code(row.object.name)} | {_code(row.control_id)} | "
                           f"{_cell(f.status)} | {_code(f.label)} | {_code(short(f.current))} | "
                           f"{_code(short(f.desired))} | {_cell(detail)} |")
    return "\n".join(out) + "\n"
