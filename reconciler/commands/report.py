"""`vsr report PATH... -o json|junit|sarif|html|markdown [--file F]`: compliance per object x control (pass, fail,
waived, unsupported, pending) with control IDs, current and desired values. Changes nothing.
Exit 0 compliant, 2 drift, 1 error (as `vsr plan`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reconciler.commands._connection import add_connection_options, cli_connection
from reconciler.engine.runner import run_once
from reconciler.commands._journal import open_journal, report_journal_errors
from reconciler.report import model
from reconciler.report.formats import RENDERERS


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = sub.add_parser("report", parents=[common], help="compliance report with control IDs (changes nothing)",
                            description=__doc__)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="spec files or directories")
    parser.add_argument("-o", "--output", choices=tuple(RENDERERS), default="markdown",
                        help="report format (default markdown)")
    parser.add_argument("--file", type=Path, metavar="F", help="write the report to F instead of standard output")
    add_connection_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    journal = open_journal(args.journal, "report")
    if journal is None:
        return 1
    with journal:
        result = run_once(args.paths, apply=False, cli=cli_connection(args), journal=journal)
    report_journal_errors(result.journal_errors, "report")
    report = model.build(result)
    text = RENDERERS[args.output](report)
    if args.file is None:
        sys.stdout.write(text)
    else:
        args.file.parent.mkdir(parents=True, exist_ok=True)
        args.file.write_text(text, encoding="utf-8")
        counts = ", ".join(f"{n} {s}" for s, n in report.counts.items() if n)
        print(f"{args.file}: {report.objects} object(s), {counts or 'no results'}", file=sys.stderr)
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    return report.exit_code
