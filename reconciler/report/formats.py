"""The compliance report formats by name (`vsr report -o NAME`)."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.report import html, json_report, junit, markdown, sarif
from reconciler.report.model import Report

RENDERERS: dict[str, Callable[[Report], str]] = {
    "json": json_report.render,
    "yaml": json_report.render_yaml,
    "junit": junit.render,
    "sarif": sarif.render,
    "html": html.render,
    "markdown": markdown.render,
}
