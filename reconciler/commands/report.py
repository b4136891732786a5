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
from reconciler.report.formats import CHECKLISTS, RENDERERS


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = sub.add_parser("report", parents=[common], help=COMMANDS["report"], description=__doc__,
                            epilog="examples:\n  vsr report specs/ -o html --file report.html\n"
                                   "  vsr report specs/ -o markdown --detail > comment.md")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="spec files or directories")
    parser.add_argument("-o", "--output", choices=(*RENDERERS, *CHECKLISTS), default="markdown",
                        help="report format (default markdown; json is the stable contract); cklb (STIG Viewer 3) "
                             "and ckl (STIG Viewer 2) write one checklist per host / VM")
    parser.add_argument("--file", type=Path, metavar="F", help="write the report to F instead of standard output")
    parser.add_argument("--out-dir", type=Path, metavar="D",
                        help="cklb / ckl: write one file per host / VM into D (VCENTER_NAME_MOID.cklb)")
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
    if args.output in CHECKLISTS:
        stig_globs = [f.pattern for f in filters if f.key == "stig"]
        if not _write_checklists(CHECKLISTS[args.output](report, stig_globs), args):
            return 1
    else:
        _write_report(report, args)
    for note in found.notes:
        print(note, file=sys.stderr)
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    return report.exit_code


def _write_checklists(files: list[tuple[str, str]], args: argparse.Namespace) -> bool:
    """Every checklist into --out-dir, or the only one to --file / standard output."""
    if args.out_dir is not None:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        for name, text in files:
            (args.out_dir / name).write_text(text, encoding="utf-8")
        print(f"{args.out_dir}: {len(files)} checklist(s) ({args.output})", file=sys.stderr)
        return True
    if len(files) > 1:
        print(f"error: -o {args.output} writes one checklist per host / VM and this report has {len(files)}: "
              "give --out-dir D (or narrow it with -l NAME)", file=sys.stderr)
        return False
    if not files:
        print(f"-o {args.output}: no host or VM result carries a STIG ID: no checklist written", file=sys.stderr)
        return True
    if args.file is None:
        sys.stdout.write(files[0][1])
    else:
        args.file.parent.mkdir(parents=True, exist_ok=True)
        args.file.write_text(files[0][1], encoding="utf-8")
        print(f"{args.file}: 1 checklist ({args.output})", file=sys.stderr)
    return True


def _write_report(report: model.Report, args: argparse.Namespace) -> None:
    text = markdown.render(report, args.detail) if args.output == "markdown" else RENDERERS[args.output](report)
    if args.file is None:
        sys.stdout.write(text)
    else:
        args.file.parent.mkdir(parents=True, exist_ok=True)
        args.file.write_text(text, encoding="utf-8")
        counts = ", ".join(f"{n} {s}" for s, n in report.counts.items() if n)
        print(f"{args.file}: {report.objects} object(s), {counts or 'no results'}", file=sys.stderr)
