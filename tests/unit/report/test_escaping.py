"""Object names from vSphere and specs are escaped in every output (issue 12 item 12): Markdown, console text,
console logs. HTML, JUnit and SARIF have their own tests (test_html.py, test_formats.py)."""

from __future__ import annotations

import json

import pytest
import report_fixtures
import structlog
from markdown_it import MarkdownIt

from reconciler.events.model import ObjectRef
from reconciler.logsetup import configure_logging
from reconciler.report import markdown
from reconciler.report.escape import console, markdown_code
from reconciler.report.escape import markdown as md_text
from reconciler.report.plan_output import render_text

EVIL = "evil`](http://x)![i](y)\n\x1b[31m|*_<b>"


@pytest.fixture
def evil_run(monkeypatch):
    monkeypatch.setattr(report_fixtures, "HOST", ObjectRef("HostSystem", "host-1", EVIL, "lab"))
    monkeypatch.setattr(report_fixtures, "VM", ObjectRef("VirtualMachine", "vm-1", "vm " + EVIL, "lab"))
    return report_fixtures


def _gfm() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def test_markdown_report_shows_names_literally(evil_run):
    report = evil_run.build_report()
    summary = _gfm().render(markdown.render(report))  # the default summary groups names in code spans too
    assert "<a " not in summary and "<img" not in summary and "<b>" not in summary and "\x1b" not in summary
    text = markdown.render(report, detail=True)
    html = _gfm().render(text)
    assert "<a " not in html and "<img" not in html and "<b>" not in html and "\x1b" not in html
    tokens = _gfm().parse(text)
    # every table row keeps its 7 cells: no name splits a row with | or a newline
    rows = [t for t in tokens if t.type == "tr_open"]
    cells_per_row = []
    count = 0
    for t in tokens:
        if t.type == "tr_open":
            count = 0
        elif t.type in ("td_open", "th_open"):
            count += 1
        elif t.type == "tr_close":
            cells_per_row.append(count)
    assert rows and cells_per_row[-1] == 7
    codes = [c.content for t in tokens if t.type == "inline" for c in t.children or [] if c.type == "code_inline"]
    assert "evil`](http://x)![i](y)\\n\\x1b[31m|*_<b>" in codes  # the name itself, shown, not interpreted


@pytest.mark.parametrize("helper", [md_text, markdown_code])
def test_markdown_helpers_render_the_text_back(helper):
    html = _gfm().render(f"| a |\n|---|\n| {helper(EVIL)} |\n")
    assert "<a " not in html and "<img" not in html and "<b>" not in html
    assert html.count("<td>") == 1
    assert "evil`](http://x)![i](y)\\n\\x1b[31m|*_&lt;b&gt;" in html


def test_console_escapes_controls_and_bidi():
    assert console("a\nb\rc\td\x1b[31m\x7f\u202eX\u2028") == "a\\nb\\rc\\td\\x1b[31m\\x7f\\u202eX\\u2028"
    assert console("esx-01.lab ünïcode") == "esx-01.lab ünïcode"


def test_plan_text_keeps_one_line_per_entry(evil_run):
    grouped = render_text(evil_run.build_run())
    assert "\x1b" not in grouped and EVIL not in grouped
    text = render_text(evil_run.build_run(), detail=True)
    assert "\x1b" not in text
    lines = text.splitlines()
    assert any(line.startswith("HostSystem evil`](http://x)![i](y)\\n\\x1b[31m") for line in lines)
    assert not any(line.startswith(("\x1b", "[31m")) for line in lines)


def test_console_log_line_cannot_be_split_by_a_name(capsys):
    configure_logging("console", "info")
    structlog.get_logger("t").info("drift remediated", object=EVIL, policy="p\nFAKE level=info")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err
    assert "evil`](http://x)![i](y)\\n\\x1b[31m" in err and "FAKE level" in err


def test_json_log_keeps_the_exact_name(capsys):
    configure_logging("json", "info")
    structlog.get_logger("t").info("x", object=EVIL)
    assert json.loads(capsys.readouterr().err)["object"] == EVIL
