"""`vsr plan PATH...`: snapshot, diff, print the plan; changes nothing. Exit 0 compliant, 2 drift, 1 error.

With `--out FILE` the plan is also saved for `vsr apply FILE`, which applies exactly those changes."""

from __future__ import annotations

import argparse
import sys

from reconciler.commands._connection import add_connection_options, cli_connection
from reconciler.commands._journal import open_journal, report_journal_errors
from reconciler.engine import saved_plan
from reconciler.engine.runner import load_pass
from reconciler.report.plan_output import render_json, render_text


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = sub.add_parser("plan", parents=[common], help="show what would change (changes nothing)",
                            description=__doc__)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="spec files or directories")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    parser.add_argument("--out", metavar="FILE", help="also save the plan to FILE for `vsr apply FILE`")
    add_connection_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    journal = open_journal(args.journal, "plan")
    if journal is None:
        return 1
    with journal, load_pass(args.paths, cli=cli_connection(args), journal=journal) as one:
        one.plan()
        result = one.result
        servers = {setting.name: setting.address for setting, _, _ in one.planned}
    report_journal_errors(result.journal_errors, "plan")
    sys.stdout.write(render_json(result) if args.output == "json" else render_text(result))
    if args.out:
        revision = saved_plan.spec_revision(args.paths, result.documents)
        try:
            saved_plan.write(args.out, saved_plan.document(result.plans, servers, args.paths, revision))
        except OSError as exc:
            print(f"error: cannot write the saved plan {args.out}: {exc}", file=sys.stderr)
            return 1
        count = sum(1 for p in result.plans for c in p.plan.changes if c.actionable)
        print(f"saved plan: {args.out} ({count} change(s) to apply; apply them with `vsr apply {args.out}`)",
              file=sys.stderr)
    return result.exit_code()
