"""`vsr report -o html`: one self-contained HTML file (inline CSS and JS, no external assets, nothing fetched).

Scope, coverage and compliance; summary counts; a per-control table; every object x control result with search,
sort (click a column heading) and filters by status, control, object (a glob on its name) and cluster; a
per-object drill-down (click an object's name); and a print layout. The view lives in the URL fragment (or, with
no fragment, the query string), so a link opens the same view:
`report.html#status=all&cluster=C0&control=esxi-8.*&sort=object&dir=desc&obj=lab/host-1`. Every value from
vSphere or the specs goes through html.escape; long field paths and values break only after separators (`.`, `/`,
`_`, `:`, `,`), never inside a word."""

from __future__ import annotations

import re
from html import escape

from reconciler.report import frameworks, scope
from reconciler.report.model import STATUSES, Report, Row
from reconciler.report.text import short

COLORS = {"pass": "#1a7f37", "fail": "#cf222e", "waived": "#8250df", "unsupported": "#6e7781", "pending": "#bf8700",
          "attested": "#0969da"}
_SEPARATOR = re.compile(r"([./_:,])")

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}.meta{color:#59636e;margin-bottom:16px}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #d1d9e0;border-radius:8px;padding:10px 16px;
min-width:96px}.card b{display:block;font-size:24px}.card span{text-transform:uppercase;font-size:11px;color:#59636e}
table{border-collapse:collapse;width:100%;margin-top:6px}th,td{border-bottom:1px solid #d1d9e0;padding:5px 8px;
text-align:left;vertical-align:top}th{background:#f6f8fa;font-weight:600}td.num{text-align:right}
th[data-sort]{cursor:pointer;user-select:none}th[data-sort]:after{content:" \\2195";color:#8c959f}
th.asc:after{content:" \\2191";color:#1f2328}th.desc:after{content:" \\2193";color:#1f2328}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:normal;overflow-wrap:break-word}
td,li,.msg{word-break:normal;overflow-wrap:break-word}
.badge{display:inline-block;border-radius:10px;padding:0 8px;color:#fff;font-size:12px;font-weight:600}
.filters button{border:1px solid #d1d9e0;background:#f6f8fa;border-radius:6px;padding:4px 10px;margin:0 6px 6px 0;
cursor:pointer}.filters button.on{background:#1f2328;color:#fff}.msg{color:#59636e;font-size:12px}
.toolbar{display:flex;gap:8px;flex-wrap:wrap;margin:6px 0}.toolbar input,.toolbar select{font:inherit;padding:3px 6px;
border:1px solid #d1d9e0;border-radius:6px}.toolbar input[type=search]{min-width:220px}
#view{color:#59636e;font-size:12px;margin:4px 0}
#drill{border:1px solid #d1d9e0;border-left:4px solid #0969da;border-radius:8px;padding:4px 16px 12px;margin-top:20px}
#drill h2{margin-top:12px}a.obj{color:inherit}table.groups{width:auto;margin-bottom:12px}
table.groups tr[data-filter]{cursor:pointer}
.errors li{color:#cf222e}#compliance{width:auto}#compliance td,#compliance th{padding-right:20px}
@media print{
 @page{size:A4 landscape;margin:12mm}
 body{margin:0;font-size:11px}h2{break-after:avoid}
 .filters,.toolbar,a.close{display:none!important}
 th[data-sort]:after{content:none!important}
 thead{display:table-header-group}tr{break-inside:avoid}
 .badge,.card,th{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 a{color:inherit;text-decoration:none}
 #drill{border:0;padding:0}
}
"""

JS = r"""
(function(){
var body = document.body, rows = Array.prototype.slice.call(document.querySelectorAll('#results tbody tr'));
var tbody = document.querySelector('#results tbody');
var KEYS = ['status','control','cluster','object','fw','group','q','sort','dir','obj'];
var FILTERS = ['control','cluster','object','fw','group','q'];
var state = {};
function read(first){  /* the fragment; on opening, the query string when there is no fragment */
  var hash = location.hash.replace(/^#/, '');
  var p = new URLSearchParams(first && !hash ? location.search : hash);
  KEYS.forEach(function(k){ state[k] = p.get(k) || ''; });
  if (!state.status) state.status = body.dataset.initial;
  if (first && !hash && !state.group) state.group = body.dataset.group || '';
}
function write(){
  var h = new URLSearchParams();
  KEYS.forEach(function(k){ if (state[k]) h.set(k, state[k]); });
  try { history.replaceState(null, '', '#' + h.toString()); } catch (e) {}
}
function glob(pattern){
  if (!/[*?]/.test(pattern)) { var low = pattern.toLowerCase();
    return function(s){ return s.toLowerCase().indexOf(low) >= 0; }; }
  var re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
  return function(s){ return re.test(s); };
}
function nistForm(s){ return s.toUpperCase().replace(/\d+/g, function(n){ return String(parseInt(n, 10)); }); }
function frameworkFilter(text){  /* "nist=AC-* pci=8.*": one key's globs OR, different keys AND */
  var by = {};
  text.split(/[\s,]+/).forEach(function(part){
    var i = part.indexOf('='); if (i < 1) return;
    var key = part.slice(0, i).toLowerCase(), pat = part.slice(i + 1);
    if (['scg8','scg9','stig','nist','pci','control'].indexOf(key) < 0 || !pat) return;
    (by[key] = by[key] || []).push(key === 'nist' ? nistForm(pat) : pat);
  });
  var keys = Object.keys(by);
  if (!keys.length) return null;
  return function(d){ return keys.every(function(key){
    var values = key === 'control' ? [d.control].concat(d.ids.split(' '), d.nist.split(' '), d.pci.split(' '))
                                   : (d[key] || '').split(' ').filter(Boolean);
    if (key === 'nist') values = values.map(nistForm);
    return by[key].some(function(p){ var g = globAll(p); return values.some(g); }); }); };
}
function globAll(pattern){
  var re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
  return function(s){ return re.test(s); };
}
function matches(tr, obj, ctl, q, fw){
  var d = tr.dataset;
  if (fw && !fw(d)) return false;
  if (state.status !== 'all' && d.status !== state.status) return false;
  if (state.cluster && d.cluster !== (state.cluster === '-' ? '' : state.cluster)) return false;
  if (ctl && !(ctl(d.control) || d.ids.split(' ').some(ctl))) return false;
  if (obj && !obj(d.object)) return false;
  if (q && tr.textContent.toLowerCase().indexOf(q) < 0) return false;
  return true;
}
function sortRows(){
  var key = state.sort, sign = state.dir === 'desc' ? -1 : 1, group = state.group ? 'g' + state.group : '';
  var sorted = rows.slice();
  if (key || group) sorted.sort(function(a, b){
    if (group) { var ga = a.dataset[group] || '~', gb = b.dataset[group] || '~';
      if (ga !== gb) return ga.localeCompare(gb, 'en', {numeric: true}); }
    if (!key) return (+a.dataset.order) - (+b.dataset.order);
    var x = a.dataset[key], y = b.dataset[key];
    if (key === 'status') { x = +a.dataset.rank; y = +b.dataset.rank; }
    var c = x < y ? -1 : x > y ? 1 : 0;
    return c ? sign * c : (+a.dataset.order) - (+b.dataset.order);
  });
  sorted.forEach(function(tr){ tbody.appendChild(tr); });
  document.querySelectorAll('#results th[data-sort]').forEach(function(th){
    th.classList.toggle('asc', th.dataset.sort === key && sign > 0);
    th.classList.toggle('desc', th.dataset.sort === key && sign < 0);});
}
function drill(){
  var box = document.getElementById('drill'), list = document.querySelector('#drill tbody');
  list.innerHTML = '';
  var mine = rows.filter(function(tr){ return tr.dataset.key === state.obj; });
  box.hidden = !state.obj || !mine.length;
  if (box.hidden) return;
  var d = mine[0].dataset, counts = {};
  mine.forEach(function(tr){ counts[tr.dataset.status] = (counts[tr.dataset.status] || 0) + 1;
    var copy = tr.cloneNode(true); copy.removeAttribute('style'); list.appendChild(copy); });
  document.getElementById('drill-name').textContent = d.type + ' ' + d.object;
  document.getElementById('drill-meta').textContent = 'vCenter ' + d.vcenter + ' \u00b7 ' + d.moid +
    ' \u00b7 cluster ' + (d.cluster || 'none') + ' \u00b7 ' + mine.length + ' control(s): ' +
    Object.keys(counts).sort().map(function(s){ return counts[s] + ' ' + s; }).join(', ');
}
function apply(){
  var obj = state.object ? glob(state.object) : null, ctl = state.control ? glob(state.control) : null;
  var q = state.q.toLowerCase(), n = 0, fw = state.fw ? frameworkFilter(state.fw) : null;
  sortRows();
  rows.forEach(function(tr){ var on = matches(tr, obj, ctl, q, fw); tr.style.display = on ? '' : 'none'; n += on; });
  document.querySelectorAll('table.groups').forEach(function(t){ t.hidden = t.dataset.group !== state.group; });
  document.querySelectorAll('.filters button').forEach(function(b){
    b.classList.toggle('on', b.dataset.status === state.status);});
  FILTERS.forEach(function(k){
    var el = document.getElementById('f-' + k); if (el && el.value !== state[k]) el.value = state[k]; });
  document.getElementById('shown').textContent = n;
  var parts = ['status ' + state.status];
  FILTERS.forEach(function(k){ if (state[k]) parts.push((k === 'fw' ? 'framework' : k === 'group' ? 'grouped by' : k) + ' ' + state[k]); });
  document.getElementById('view').textContent = 'Showing ' + n + ' of ' + rows.length + ' result(s): ' +
    parts.join(', ') + (state.sort ? '; sorted by ' + state.sort + (state.dir === 'desc' ? ' (descending)' : '') : '');
  drill();
  write();
}
rows.forEach(function(tr, i){ tr.dataset.order = i; });
document.querySelectorAll('.filters button').forEach(function(b){
  b.addEventListener('click', function(){ state.status = b.dataset.status; apply(); });});
FILTERS.forEach(function(k){
  var el = document.getElementById('f-' + k);
  el.addEventListener(el.tagName === 'SELECT' ? 'change' : 'input', function(){ state[k] = el.value; apply(); });});
document.querySelectorAll('#results th[data-sort]').forEach(function(th){
  th.addEventListener('click', function(){
    state.dir = state.sort === th.dataset.sort && state.dir !== 'desc' ? 'desc' : '';
    state.sort = th.dataset.sort; apply(); });});
document.querySelectorAll('table.groups tr[data-filter]').forEach(function(tr){
  tr.addEventListener('click', function(){ state.fw = tr.dataset.filter; state.status = 'all'; apply(); });});
document.addEventListener('click', function(e){
  var a = e.target.closest ? e.target.closest('a.obj, a.close') : null;
  if (!a) return;
  e.preventDefault();
  state.obj = a.classList.contains('close') ? '' : a.dataset.key; apply();
  if (state.obj) document.getElementById('drill').scrollIntoView();
});
window.addEventListener('hashchange', function(){ read(false); apply(); });
read(true); apply();
})();
"""


def breakable(value: str) -> str:
    """`value` escaped, with a line-break opportunity (`<wbr>`) after each separator, so a long path wraps at
    `.`/`/`/`_`/`:`/`,` instead of in the middle of a word."""
    return _SEPARATOR.sub(r"\1<wbr>", escape(value))


def badge(status: str) -> str:
    return f'<span class="badge" style="background:{COLORS[status]}">{escape(status)}</span>'


def _result_row(row: Row) -> str:
    lines = []
    for f in row.fields:
        msg = f'<div class="msg">{escape(f.message)}</div>' if f.message else ""
        lines.append(f"<div>{badge(f.status)} <code>{breakable(f.label)}</code>: <code>{breakable(short(f.current))}"
                     f"</code> &rarr; <code>{breakable(short(f.desired))}</code>{msg}</div>")
    o = row.object
    key = f"{o.vcenter}/{o.moid}"
    fw = row.frameworks
    data = {"status": row.status, "rank": str(STATUSES.index(row.status)), "control": row.control_id,
            "ids": " ".join(row.controls), **{k: " ".join(fw[k]) for k in frameworks.FRAMEWORKS},
            **{f"g{k}": " ".join(dict.fromkeys(frameworks.GROUP_KEY[k](v) for v in fw[k])) for k in frameworks.GROUPINGS},
            "cluster": row.cluster, "object": o.name, "type": o.type, "key": key,
            "vcenter": o.vcenter, "moid": o.moid, "title": row.title}
    attrs = " ".join(f'data-{k}="{escape(v)}"' for k, v in data.items())
    return (f'<tr {attrs}><td>{escape(o.type)}<br><a class="obj" href="#obj={escape(key)}" data-key="{escape(key)}">'
            f'<b>{breakable(o.name)}</b></a><div class="msg">{escape(o.vcenter)} / {escape(o.moid)}</div></td>'
            f"<td>{escape(row.cluster) or '&mdash;'}</td>"
            f"<td><code>{breakable(row.control_id)}</code>"
            f"<div class=\"msg\">{escape(', '.join(row.controls))}</div>{_framework_line(fw)}</td>"
            f"<td>{escape(row.title)}</td><td>{badge(row.status)}</td><td>{''.join(lines)}</td>"
            f'<td><code>{breakable(row.lead.source)}</code><div class="msg">{escape(row.lead.policy)}</div></td></tr>')


def _framework_line(fw: dict[str, list[str]]) -> str:
    parts = [f"{label} {', '.join(fw[k])}" for k, label in (("nist", "NIST"), ("pci", "PCI")) if fw[k]]
    return f'<div class="msg fw">{escape("; ".join(parts))}</div>' if parts else ""


def _group_tables(report: Report) -> str:
    """One summary table per grouping (NIST family, PCI requirement), shown by the group-by selector; a click on
    a group filters the results to it."""
    out = []
    cols = ("pass", "fail", "pending", "waived", "unsupported", "attested")
    for name, label in frameworks.GROUPINGS.items():
        body = "".join(
            f'<tr data-filter="{escape(name)}={escape(e["group"])}{"-*" if name == "nist" else ".*"}">'
            f"<td><b>{escape(e['group'])}</b><div class=\"msg\">{escape(', '.join(e['ids']))}</div></td>"
            f'<td class="num">{e["results"]}</td><td class="num">{_pct(e["percent"])}</td>'
            + "".join(f'<td class="num">{e[c]}</td>' for c in cols) + "</tr>"
            for e in frameworks.grouped(report.rows, name))
        out.append(f'<table class="groups" id="group-{name}" data-group="{name}" hidden><thead><tr><th>{label}</th>'
                   f"<th>results</th><th>compliance</th>{''.join(f'<th>{c}</th>' for c in cols)}</tr></thead>"
                   f"<tbody>{body}</tbody></table>")
    return "".join(out)


def _scope(report: Report) -> str:
    sc, cov = report.scope, report.coverage
    if not sc and not cov:
        return ""
    rev = sc.get("specRevision") or {}
    revision = (rev.get("git") or rev.get("digest") or "unknown") + (" (with uncommitted changes)"
                                                                     if rev.get("dirty") else "")
    base = ", ".join(f"{b['name']} {b['version']}" for b in sc.get("baselines", [])) or "none"
    items = [f"<li>vCenter(s): {escape(', '.join(sc.get('vcenters', [])) or 'none')}</li>",
             f"<li>spec revision: <code>{escape(revision)}</code></li>", f"<li>baselines: {escape(base)}</li>"]
    if cov:
        items.append(f"<li>coverage: {cov['objectsChecked']} object(s) checked, {cov['objectsUncovered']} matched "
                     f"by no policy; {cov['controlsAssessed']} control(s) assessed, {cov['controlsNotInSpecs']} not "
                     f"set by the specs, {cov['controlsNotAssessable']} not assessable by vsr</li>")
        items += [f"<li>policy <code>{escape(u['name'])}</code> ({escape(u['kind'])}, {breakable(u['source'])}): "
                  "its selector matches no object</li>" for u in cov.get("unmatchedPolicies", [])]
    comp = scope.compliance(report.rows, sc.get("baselines", []))
    entries = [("overall", comp["overall"])] + [(f"baseline {e['name']}", e) for e in comp["byBaseline"]] + \
        [(f"family {e['name']}", e) for e in comp["byFamily"]]
    cols = ("pass", "fail", "pending", "waived", "unsupported")
    table = "".join(f'<tr><td>{escape(label)}</td><td class="num">{_pct(e["percent"])}</td>'
                    + "".join(f'<td class="num">{e[c]}</td>' for c in cols) + "</tr>" for label, e in entries)
    return (f'<h2>Scope</h2><ul id="scope">{"".join(items)}</ul><h2>Compliance</h2><table id="compliance"><thead>'
            f"<tr><th>scope</th><th>compliance</th>{''.join(f'<th>{c}</th>' for c in cols)}</tr></thead>"
            f"<tbody>{table}</tbody></table>")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def _options(values: list[str], everything: str) -> str:
    return f'<option value="">{everything}</option>' + "".join(
        f'<option value="{escape(v or "-")}">{escape(v or "no cluster")}</option>' for v in values)


def render(report: Report) -> str:
    counts = report.counts
    order = [s for s in reversed(STATUSES)]
    cards = "".join(f'<div class="card" style="border-top:4px solid {COLORS[s]}"><b>{counts[s]}</b>'
                    f"<span>{s}</span></div>" for s in order)
    errors = ("<h2>Errors</h2><ul class=\"errors\">" + "".join(f"<li>{escape(e)}</li>" for e in report.errors)
              + "</ul>") if report.errors else ""
    control_rows = "".join(
        f"<tr><td><code>{breakable(s.id)}</code></td><td>{escape(', '.join(s.controls))}</td><td>{escape(s.title)}</td>"
        f"<td>{badge(s.status)}</td>" + "".join(f'<td class="num">{s.counts[k]}</td>' for k in order) + "</tr>"
        for s in report.by_control())
    buttons = "".join(f'<button data-status="{s}">{s} ({counts[s]})</button>' for s in order)
    initial = "fail" if counts["fail"] else "all"
    controls = sorted({r.control_id for r in report.rows})
    clusters = sorted({r.cluster for r in report.rows})
    heads = "".join(f'<th data-sort="{k}">{label}</th>' if k else f"<th>{label}</th>" for k, label in (
        ("object", "object"), ("cluster", "cluster"), ("control", "control"), ("title", "title"),
        ("status", "status"), ("", "fields: current &rarr; desired"), ("", "spec")))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>vsr compliance report</title><style>{CSS}</style></head>
<body data-initial="{initial}" data-group="{escape(report.group_by)}">
<h1>vsr compliance report</h1>
<div class="meta">Generated {escape(report.generated.isoformat(timespec="seconds"))} by vsr {escape(report.version)}
 &middot; {report.objects} object(s) &middot; {len(report.rows)} result(s) &middot; exit code {report.exit_code}</div>
<section id="summary" class="cards">{cards}</section>
{errors}
{_scope(report)}
<h2>Controls</h2>
<table id="controls"><thead><tr><th>control</th><th>IDs</th><th>title</th><th>status</th>
{''.join(f'<th>{s}</th>' for s in order)}</tr></thead><tbody>{control_rows}</tbody></table>
<section id="drill" hidden><h2>Object <span id="drill-name"></span> <a class="close" href="#">(close)</a></h2>
<div id="drill-meta" class="msg"></div>
<table id="drill-results"><thead><tr><th>object</th><th>cluster</th><th>control</th><th>title</th><th>status</th>
<th>fields: current &rarr; desired</th><th>spec</th></tr></thead><tbody></tbody></table></section>
<h2>Results (<span id="shown">{len(report.rows)}</span> shown)</h2>
<div class="filters"><button data-status="all">all ({len(report.rows)})</button>{buttons}</div>
<div class="toolbar"><input id="f-q" type="search" placeholder="search every column" aria-label="search">
<input id="f-object" type="search" placeholder="object name (glob: * ?)" aria-label="object">
<select id="f-control" aria-label="control">{_options(controls, "every control")}</select>
<select id="f-cluster" aria-label="cluster">{_options(clusters, "every cluster")}</select>
<input id="f-fw" type="search" placeholder="framework: nist=AC-* pci=8.*" aria-label="framework filter">
<select id="f-group" aria-label="group by"><option value="">no grouping</option>
<option value="nist">group by NIST family</option><option value="pci">group by PCI DSS requirement</option></select>
<a href="#status=all">reset</a></div>
<div id="view"></div>
{_group_tables(report)}
<table id="results"><thead><tr>{heads}</tr></thead>
<tbody>{''.join(_result_row(r) for r in report.rows)}</tbody></table>
<script>{JS}</script>
</body></html>
"""
