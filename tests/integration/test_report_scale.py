"""Reports that scale (issue 14 items 13 and 14): the SCG 8 baseline on 64 hosts (4 clusters x 16, 2 VMs each,
half the hosts drifted). The Markdown summary fits a pull-request comment (GitHub's limit is 65,536 characters;
vsr keeps it under 60,000) and `--detail` holds every result; the HTML report of the same run, loaded in headless
chromium, filters the real rows by cluster."""

from __future__ import annotations

import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness import Workspace
from reconciler.catalog import baselines
from test_baselines_reports import SITE

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
HOSTS = ("-cluster", "4", "-host", "16", "-standalone-host", "0", "-vm-per-host", "2", "-drift")
PR_COMMENT_LIMIT = 60_000


@pytest.fixture(autouse=True)
def restore_logging():
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture(scope="module")
def reports(tmp_path_factory, request):
    """One report run in every format needed here (the 64-host plan is the slow part)."""
    from simulator import start_simulator

    from reconciler.cli import main as vsr_main

    root = tmp_path_factory.mktemp("scale")
    sim = start_simulator(*HOSTS)
    request.addfinalizer(sim.stop)
    ws = Workspace(root, sim)
    for file in sorted((ROOT / "specs/baselines/scg-8").glob("*.yaml")):
        ws.write(f"scg-8-{file.name}", baselines.fill(file.read_text(), SITE))
    out = {}
    for name, args in (("summary", ["-o", "markdown"]), ("detail", ["-o", "markdown", "--detail"]),
                       ("html", ["-o", "html"]), ("json", ["-o", "json"])):
        path = root / f"report.{name}"
        code = vsr_main(["report", str(ws.specs), "--journal", str(ws.journal), *args, "--file", str(path)])
        assert code == 2, name
        out[name] = path
    return out


def test_markdown_summary_of_64_hosts_fits_a_pull_request_comment(reports):
    import json

    summary = reports["summary"].read_text(encoding="utf-8")
    detail = reports["detail"].read_text(encoding="utf-8")
    results = json.loads(reports["json"].read_text())["results"]
    hosts = {r["object"]["name"] for r in results if r["object"]["type"] == "HostSystem"}
    assert len(hosts) == 64
    assert len(summary) < PR_COMMENT_LIMIT, len(summary)
    # grouped across objects: the 32 drifted hosts share one SSH entry, named by count and a few names
    assert "| 32 hosts: `DC0_C0_H0`, `DC0_C0_H1`, `DC0_C0_H2`, … +29 | `esxi-8.deactivate-ssh` | fail |" in summary
    assert "`--detail` lists each one." in summary
    # --detail has one line per failing field, which is what makes it too big for a comment
    failing = sum(1 for r in results for f in r["fields"] if f["status"] != "pass")
    assert detail.count("\n| ") - summary.count("\n| ") >= failing
    assert len(detail) > PR_COMMENT_LIMIT


class Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str | None]] = []
        self.table: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.table = a.get("id")
        if tag == "tr" and "data-key" in a and self.table == "results":
            self.rows.append(a)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (/usr/bin/chromium)")
def test_html_of_64_hosts_filters_a_cluster_in_chromium(reports, tmp_path):
    import json

    results = json.loads(reports["json"].read_text())["results"]
    url = reports["html"].as_uri() + "#status=all&cluster=DC0_C2&control=esxi-8.*&sort=object&dir=desc"
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--disable-component-update", "--disable-sync", "--no-first-run",
                          f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url],
                         check=True, capture_output=True, text=True, timeout=180).stdout
    parsed = Rows()
    parsed.feed(dom)
    assert len(parsed.rows) == len(results)
    shown = [r for r in parsed.rows if "display: none" not in (r.get("style") or "")]
    expected = Counter(r["object"]["name"] for r in results
                       if r["object"]["name"].startswith("DC0_C2_H") and r["control"].startswith("esxi-8."))
    assert Counter(r["data-object"] for r in shown) == expected and len(expected) == 16
    names = [r["data-object"] for r in shown]
    assert names == sorted(names, reverse=True)
