"""The HTML report: one self-contained file (no external assets) with summary counts, a per-control table and
a status filter. Its structure is checked with html.parser; when Debian's chromium is installed it is also
rendered headless (screenshot, and the DOM after the filter script ran)."""

from __future__ import annotations

import shutil
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


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (/usr/bin/chromium); "
                                                       "the HTML structure is still checked with html.parser")
def test_renders_in_headless_chromium(report, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(html.render(report), encoding="utf-8")
    shot = tmp_path / "report.png"
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}"]
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1400,1000", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    # the filter script ran: only failing results are shown at first
    shown = parse(dom)
    assert shown.result_rows == [r.status for r in report.rows]
    assert dom.count('style="display: none;"') == sum(r.status != "fail" for r in report.rows)
    assert f'<span id="shown">{report.counts["fail"]}</span>' in dom
    keep = Path("/tmp/vsr-report-screenshot.png")
    shutil.copy(shot, keep)  # for a person to look at
