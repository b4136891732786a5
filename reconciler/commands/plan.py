"""`vsr plan PATH...`: snapshot, diff, print the plan; changes nothing. Exit 0 compliant, 2 drift, 1 error."""

from __future__ import annotations

import argparse
import sys

from reconciler.commands._connection import add_connection_options, cli_connection
from reconciler.engine.runner import run_once
from reconciler.events.journal import Journal
from reconciler.report.plan_output import render_json, render_text


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = sub.add_parser("plan", parents=[common], help="show what would change (changes nothing)",
                            description=__doc__)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="spec files or directories")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    add_connection_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    with Journal(args.journal) as journal:
        result = run_once(args.paths, apply=False, cli=cli_connection(args), journal=journal)
    sys.stdout.write(render_json(result) if args.output == "json" else render_text(result))
    return result.exit_code()
