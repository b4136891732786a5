"""`vsr plan PATH...`: snapshot, diff, print the plan; changes nothing. Exit 0 compliant, 2 drift, 1 error."""

from __future__ import annotations

import argparse
import sys

from reconciler.commands._connection import add_connection_options, cli_connection
from reconciler.engine.runner import run_once
from reconciler.commands._journal import open_journal, report_journal_errors
from reconciler.report.plan_output import render_json, render_text


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = sub.add_parser("plan", parents=[common], help="show what would change (changes nothing)",
                            description=__doc__)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="spec files or directories")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    add_connection_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    journal = open_journal(args.journal, "plan")
    if journal is None:
        return 1
    with journal:
        result = run_once(args.paths, apply=False, cli=cli_connection(args), journal=journal)
    report_journal_errors(result.journal_errors, "plan")
    sys.stdout.write(render_json(result) if args.output == "json" else render_text(result))
    return result.exit_code()
