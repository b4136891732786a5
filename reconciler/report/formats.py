"""The compliance report formats by name (`vsr report -o NAME`)."""

from __future__ import annotations

from collections.abc import Callable

from typing import Any

from reconciler.report import ckl, cklb, html, json_report, junit, markdown, sarif
from reconciler.report.model import Report

RENDERERS: dict[str, Callable[[Report], str]] = {
    "json": json_report.render,
    "yaml": json_report.render_yaml,
    "junit": junit.render,
    "sarif": sarif.render,
    "html": html.render,
    "markdown": markdown.render,
}

#: one file per host / VM: (report, STIG globs) -> [(file name, content)]
CHECKLISTS: dict[str, Callable[[Report, Any], list[tuple[str, str]]]] = {
    "cklb": cklb.render_all,
    "ckl": ckl.render_all,
}
