"""`vsr report PATH... -o markdown|html|json|yaml|junit|sarif [--file F]`: compliance per object x control (pass,
fail, waived, unsupported, pending) with control IDs, current and desired values, and the report's scope and
coverage. Changes nothing. Exit 0 compliant, 2 drift, 1 error (as `vsr plan`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reconciler.cli import COMMANDS
from reconciler.commands import _options as opt
from reconciler.commands._connection import add_connection_options, cli_connection
from reconciler.commands._journal import open_journal, report_journal_errors
from reconciler.commands._planning import parse_target, plan
from reconciler.commands._progress import Bars
from reconciler.engine.runner import load_pass
from reconciler.report import markdown, model
from reconciler.report.formats import RENDERERS


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = sub.add_parser("report", parents=[common], help=COMMANDS["report"], description=__doc__,
                            epilog="examples:\n  vsr report specs/ -o html --file report.html\n"
                                   "  vsr report specs/ -o markdown --detail > comment.md")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="spec files or directories")
    parser.add_argument("-o", "--output", choices=tuple(RENDERERS), default="markdown",
                        help="report format (default markdown; json is the stable contract)")
    parser.add_argument("--file", type=Path, metavar="F", help="write the report to F instead of standard output")
    parser.add_argument("--detail", action="store_true", help="markdown: every result, not only the summary")
    parser.add_argument("--filter", action="append", default=[], metavar="KEY=GLOB",
                        help="only results whose framework IDs match; KEY one of scg8, scg9, stig, nist, pci, control; "
                             "repeatable: one key's globs are alternatives, different keys must all match "
                             "(e.g. --filter nist=AC-* --filter pci=8.*)")
    parser.add_argument("--group-by", choices=("nist", "pci"), default="",
                        help="html: open grouped by NIST 800-53r5 family or PCI DSS requirement; markdown: add that "
                             "table (json always carries both in byFramework)")
    opt.add_target_option(parser)
    opt.add_strict_option(parser)
    opt.add_journal_option(parser)
    add_connection_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from reconciler.report import frameworks

    try:
        filters = [frameworks.parse_filter(text) for text in args.filter]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    target = parse_target(args)
    if target is None:
        return 1
    journal = open_journal(args.journal, "report")
    if journal is None:
        return 1
    with journal, load_pass(args.paths, cli=cli_connection(args), journal=journal) as one, Bars() as bars:
        found = plan(one, target, bars)
        result = one.result
    report_journal_errors(result.journal_errors, "report")
    report = model.build(result, strict=args.strict, target=target, unmatched=found.unmatched,
                         spec_paths=args.paths, filters=filters)
    report.group_by = args.group_by
    text = markdown.render(report, args.detail) if args.output == "markdown" else RENDERERS[args.output](report)
    if args.file is None:
        sys.stdout.write(text)
    else:
        args.file.parent.mkdir(parents=True, exist_ok=True)
        args.file.write_text(text, encoding="utf-8")
        counts = ", ".join(f"{n} {s}" for s, n in report.counts.items() if n)
        print(f"{args.file}: {report.objects} object(s), {counts or 'no results'}", file=sys.stderr)
    for note in found.notes:
        print(note, file=sys.stderr)
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    return report.exit_code
