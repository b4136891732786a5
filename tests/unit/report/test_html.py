"""The HTML report: one self-contained file (no external assets) with scope, summary counts, a per-control table,
search, sort, filters (status, control, object, cluster), a per-object drill-down and a print layout. Its structure
is checked with html.parser; when Debian's chromium is installed it is also rendered headless: a screenshot (PNG
size) and the DOM after the script applied a view given in the URL fragment or query string."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reconciler.report import html
from reconciler.report.model import STATUSES

CHROMIUM = "/usr/bin/chromium"


class Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.result_rows: list[str | None] = []
        self.control_rows = 0
        self.table: str | None = None
        self.in_tbody = False
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "table":
            self.table = a.get("id")
        if tag == "tbody":
            self.in_tbody = True
        if tag == "tr" and self.in_tbody:
            if self.table == "results":
                self.result_rows.append(a.get("data-status"))
            elif self.table == "controls":
                self.control_rows += 1
        if tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag):
        if tag == "tbody":
            self.in_tbody = False


def parse(text: str) -> Structure:
    parser = Structure()
    parser.feed(text)
    return parser


def test_structure(report):
    page = parse(html.render(report))
    tags = [t for t, _ in page.tags]
    assert tags[0] == "html" and tags.count("html") == 1 and "style" in tags
    assert page.scripts == 1
    for tag, attrs in page.tags:  # self-contained: nothing loaded from elsewhere
        assert tag != "link" and tag != "img"
        assert not (attrs.get("src") or "").strip() and "://" not in (attrs.get("href") or "")
    assert page.result_rows == [r.status for r in report.rows]
    assert page.control_rows == len(report.by_control())
    buttons = [a.get("data-status") for t, a in page.tags if t == "button"]
    assert buttons == ["all", *reversed(STATUSES)]
    cards = [a for t, a in page.tags if t == "div" and a.get("class") == "card"]
    assert len(cards) == len(STATUSES)


def test_values_are_escaped(report):
    report.rows[0].fields[0].message = "<script>alert(1)</script>"
    assert "<script>alert(1)" not in html.render(report)


def test_filters_sort_and_print_layout_are_in_the_page(report):
    text = html.render(report)
    page = parse(text)
    ids = {a.get("id") for _, a in page.tags}
    assert {"f-q", "f-object", "f-control", "f-cluster", "drill", "view", "scope", "compliance"} <= ids
    sortable = [a["data-sort"] for t, a in page.tags if t == "th" and "data-sort" in a]
    assert sortable == ["object", "cluster", "control", "title", "status"]
    options = [a.get("value") for t, a in page.tags if t == "option"]
    assert options == ["", *sorted({r.control_id for r in report.rows}), "", "-", "DC0_C0", "DC0_C1", "", "nist", "pci"]
    rows = [a for t, a in page.tags if t == "tr" and "data-key" in a]
    assert [(r["data-object"], r["data-cluster"]) for r in rows] == [
        (r.object.name, r.cluster) for r in report.rows]
    assert {r.object.name: r.cluster for r in report.rows} == {"esx-01": "DC0_C0", "web-01": "DC0_C1", "db-01": ""}
    assert "@media print" in text and "thead{display:table-header-group}" in text


def test_long_paths_break_after_separators_only(report):
    assert html.breakable("isolation.tools.copy.disable") == "isolation.<wbr>tools.<wbr>copy.<wbr>disable"
    assert html.breakable("<b>a.b</b>") == "&lt;b&gt;a.<wbr>b&lt;/<wbr>b&gt;"  # escaped first
    text = html.render(report)
    assert "advancedSettings.<wbr>isolation.<wbr>tools.<wbr>copy.<wbr>disable" in text
    assert "word-break:break-all" not in text


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Debian's chromium is not installed (/usr/bin/chromium; `make deps` installs it where the registry has "
           "it); the HTML structure is still checked with html.parser")


class Dom(HTMLParser):
    """The rows of the results and drill-down tables after the script ran: (table id, attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str | None, dict[str, str | None]]] = []
        self.elements: dict[str, dict[str, str | None]] = {}
        self.text: dict[str, str] = {}
        self.table: str | None = None
        self.capture: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.elements[a["id"]] = a
            self.capture = a["id"] if a["id"] in ("view", "shown", "drill-meta", "drill-name") else None
        if tag == "table":
            self.table = a.get("id")
        if tag == "tr" and "data-key" in a:
            self.rows.append((self.table, a))

    def handle_data(self, data):
        if self.capture:
            self.text[self.capture] = self.text.get(self.capture, "") + data

    def handle_endtag(self, tag):
        if tag in ("div", "span"):
            self.capture = None

    def shown(self, table: str = "results") -> list[dict[str, str | None]]:
        return [a for t, a in self.rows if t == table and "display: none" not in (a.get("style") or "")]


@pytest.fixture
def browser(report, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(html.render(report), encoding="utf-8")

    def run(*args: str, view: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args,
                               page.as_uri() + view], check=True, capture_output=True, text=True, timeout=120)

    def dom(view: str = "") -> Dom:
        parsed = Dom()
        parsed.feed(run("--dump-dom", view=view).stdout)
        return parsed

    run.dom = dom  # type: ignore[attr-defined]
    return run


@needs_chromium
def test_chromium_screenshot_is_a_full_size_png(browser, tmp_path):
    shot = tmp_path / "report.png"
    browser(f"--screenshot={shot}", "--window-size=1400,1000", view="#status=all&obj=lab/host-1")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (1400, 1000)
    assert shot.stat().st_size > 20_000  # text and tables were drawn, not a blank page
    shutil.copy(shot, Path("/tmp/vsr-report-screenshot.png"))  # for a person to look at


@needs_chromium
def test_chromium_opens_on_failures_by_default(browser, report):
    dom = browser.dom()
    assert [a["data-status"] for t, a in dom.rows if t == "results"] == [r.status for r in report.rows]
    assert [a["data-object"] for a in dom.shown()] == [r.object.name for r in report.rows if r.status == "fail"]
    assert dom.text["shown"] == str(report.counts["fail"]) == "3"
    assert "hidden" in dom.elements["drill"]


@needs_chromium
def test_chromium_applies_cluster_filter_and_sort_from_the_fragment(browser, report):
    dom = browser.dom("#status=all&cluster=DC0_C0&sort=control&dir=desc")
    expected = sorted((r.control_id for r in report.rows if r.cluster == "DC0_C0"), reverse=True)
    assert [a["data-control"] for a in dom.shown()] == expected and len(expected) == 5
    assert dom.text["view"] == "Showing 5 of 9 result(s): status all, cluster DC0_C0; sorted by control (descending)"
    # status sorts worst first, not alphabetically; objects without a cluster are "-"
    dom = browser.dom("#status=all&sort=status")
    assert [a["data-status"] for a in dom.shown()] == sorted((r.status for r in report.rows), key=STATUSES.index)
    assert [a["data-object"] for a in browser.dom("#status=all&cluster=-").shown()] == ["db-01"]


@needs_chromium
def test_chromium_applies_control_object_and_search_from_the_query_string(browser, report):
    # a control glob, or one of the control's official IDs
    dom = browser.dom("?status=all&control=vm-8.*")
    assert [a["data-control"] for a in dom.shown()] == [r.control_id for r in report.rows
                                                       if r.control_id.startswith("vm-8.")]
    assert [a["data-control"] for a in browser.dom("?status=all&control=ESXI-80-000193").shown()] == [
        "esxi-8.deactivate-ssh"]
    assert {a["data-object"] for a in browser.dom("?status=all&object=*-01&q=TSM-SSH").shown()} == {"esx-01"}
    assert {a["data-object"] for a in browser.dom("?status=pending&object=WEB").shown()} == {"web-01"}


@needs_chromium
def test_chromium_drills_down_into_one_object(browser, report):
    dom = browser.dom("#obj=lab/vm-1")  # the default status filter (fail) does not hide the object's rows
    assert "hidden" not in dom.elements["drill"]
    mine = [r for r in report.rows if r.object.moid == "vm-1"]
    assert [a["data-control"] for a in dom.shown("drill-results")] == [r.control_id for r in mine]
    assert dom.text["drill-name"] == "VirtualMachine web-01"
    assert re.fullmatch(r"vCenter lab · vm-1 · cluster DC0_C1 · 3 control\(s\): 1 pass, 2 pending",
                        dom.text["drill-meta"]), dom.text["drill-meta"]
