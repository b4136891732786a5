"""`vsr report -o html`: one self-contained HTML file (inline CSS and a few lines of JS, no external assets):
summary counts, a per-control table and every object x control result, filterable by status."""

from __future__ import annotations

from html import escape

from reconciler.report.model import STATUSES, Report, Row
from reconciler.report.text import short

COLORS = {"pass": "#1a7f37", "fail": "#cf222e", "waived": "#8250df", "unsupported": "#6e7781", "pending": "#bf8700",
          "attested": "#0969da"}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}.meta{color:#59636e;margin-bottom:16px}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #d1d9e0;border-radius:8px;padding:10px 16px;
min-width:96px}.card b{display:block;font-size:24px}.card span{text-transform:uppercase;font-size:11px;color:#59636e}
table{border-collapse:collapse;width:100%;margin-top:6px}th,td{border-bottom:1px solid #d1d9e0;padding:5px 8px;
text-align:left;vertical-align:top}th{background:#f6f8fa;font-weight:600}td.num{text-align:right}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.badge{display:inline-block;border-radius:10px;padding:0 8px;color:#fff;font-size:12px;font-weight:600}
.filters button{border:1px solid #d1d9e0;background:#f6f8fa;border-radius:6px;padding:4px 10px;margin-right:6px;
cursor:pointer}.filters button.on{background:#1f2328;color:#fff}.msg{color:#59636e;font-size:12px}
.errors li{color:#cf222e}
"""

JS = """
function show(status){
  document.querySelectorAll('#results tbody tr').forEach(function(tr){
    tr.style.display = (status === 'all' || tr.dataset.status === status) ? '' : 'none';});
  document.querySelectorAll('.filters button').forEach(function(b){
    b.classList.toggle('on', b.dataset.status === status);});
  var n = document.querySelectorAll('#results tbody tr:not([style*="none"])').length;
  document.getElementById('shown').textContent = n;
}
document.querySelectorAll('.filters button').forEach(function(b){
  b.addEventListener('click', function(){ show(b.dataset.status); });});
show(document.body.dataset.initial);
"""


def badge(status: str) -> str:
    return f'<span class="badge" style="background:{COLORS[status]}">{escape(status)}</span>'


def _result_row(row: Row) -> str:
    lines = []
    for f in row.fields:
        msg = f'<div class="msg">{escape(f.message)}</div>' if f.message else ""
        lines.append(f"<div>{badge(f.status)} <code>{escape(f.label)}</code>: <code>{escape(short(f.current))}</code>"
                     f" &rarr; <code>{escape(short(f.desired))}</code>{msg}</div>")
    source = escape(row.lead.source)
    return (f'<tr data-status="{row.status}"><td>{escape(row.object.type)}<br><b>{escape(row.object.name)}</b>'
            f'<div class="msg">{escape(row.object.vcenter)} / {escape(row.object.moid)}</div></td>'
            f"<td><code>{escape(row.control_id)}</code><div class=\"msg\">{escape(', '.join(row.controls))}</div></td>"
            f"<td>{escape(row.title)}</td><td>{badge(row.status)}</td><td>{''.join(lines)}</td>"
            f'<td><code>{source}</code><div class="msg">{escape(row.lead.policy)}</div></td></tr>')


def render(report: Report) -> str:
    counts = report.counts
    order = [s for s in reversed(STATUSES)]
    cards = "".join(f'<div class="card" style="border-top:4px solid {COLORS[s]}"><b>{counts[s]}</b>'
                    f"<span>{s}</span></div>" for s in order)
    errors = ("<h2>Errors</h2><ul class=\"errors\">" + "".join(f"<li>{escape(e)}</li>" for e in report.errors)
              + "</ul>") if report.errors else ""
    control_rows = "".join(
        f"<tr><td><code>{escape(s.id)}</code></td><td>{escape(', '.join(s.controls))}</td><td>{escape(s.title)}</td>"
        f"<td>{badge(s.status)}</td>" + "".join(f'<td class="num">{s.counts[k]}</td>' for k in order) + "</tr>"
        for s in report.by_control())
    buttons = "".join(f'<button data-status="{s}">{s} ({counts[s]})</button>' for s in order)
    initial = "fail" if counts["fail"] else "all"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>vsr compliance report</title><style>{CSS}</style></head>
<body data-initial="{initial}">
<h1>vsr compliance report</h1>
<div class="meta">Generated {escape(report.generated.isoformat(timespec="seconds"))} by vsr {escape(report.version)}
 &middot; {report.objects} object(s) &middot; {len(report.rows)} result(s) &middot; exit code {report.exit_code}</div>
<section id="summary" class="cards">{cards}</section>
{errors}
<h2>Controls</h2>
<table id="controls"><thead><tr><th>control</th><th>IDs</th><th>title</th><th>status</th>
{''.join(f'<th>{s}</th>' for s in order)}</tr></thead><tbody>{control_rows}</tbody></table>
<h2>Results (<span id="shown">{len(report.rows)}</span> shown)</h2>
<div class="filters"><button data-status="all">all ({len(report.rows)})</button>{buttons}</div>
<table id="results"><thead><tr><th>object</th><th>control</th><th>title</th><th>status</th>
<th>fields: current &rarr; desired</th><th>spec</th></tr></thead>
<tbody>{''.join(_result_row(r) for r in report.rows)}</tbody></table>
<script>{JS}</script>
</body></html>
"""
