"""`vsr plan PATH...`: snapshot, diff, print the plan; changes nothing. Exit 0 compliant, 2 drift, 1 error.

Identical changes are grouped across objects (`--detail` lists every object). With `--out FILE` the plan is also
saved for `vsr apply FILE`, which applies exactly those changes. Nothing is written to the event journal unless
`--record` (then DriftDetected events are recorded, as `vsr apply` and the daemon do)."""

from __future__ import annotations

import argparse
import sys

from reconciler.cli import COMMANDS
from reconciler.commands import _options as opt
from reconciler.commands._connection import add_connection_options, cli_connection
from reconciler.commands._journal import (
    open_journal,
    open_readonly,
    report_journal_errors,
)
from reconciler.commands._planning import parse_target, plan
from reconciler.commands._progress import Bars
from reconciler.engine import saved_plan
from reconciler.engine.runner import load_pass
from reconciler.report.plan_output import render


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = sub.add_parser("plan", parents=[common], help=COMMANDS["plan"], description=__doc__,
                            epilog="examples:\n  vsr plan specs/\n  vsr plan specs/ -l 'esx-0*' --detail\n"
                                   "  vsr plan specs/ --out plan.json && vsr apply plan.json")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="spec files or directories")
    opt.add_output_option(parser)
    parser.add_argument("--out", metavar="FILE", help="also save the plan to FILE for `vsr apply FILE`")
    parser.add_argument("--detail", action="store_true", help="list every object and field, not grouped")
    parser.add_argument("--record", action="store_true", help="record DriftDetected events in the journal")
    opt.add_target_option(parser)
    opt.add_strict_option(parser)
    opt.add_color_option(parser)
    opt.add_journal_option(parser)
    add_connection_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    target = parse_target(args)
    if target is None:
        return 1
    journal = open_journal(args.journal, "plan") if args.record else open_readonly(args.journal, "plan")
    if journal is False or (journal is None and args.record):
        return 1
    with load_pass(args.paths, cli=cli_connection(args), journal=journal) as one:
        with Bars() as bars:
            found = plan(one, target, bars)
        result = one.result
        servers = {setting.name: setting.address for setting, _, _ in one.planned}
        if not args.record:
            one.events = []  # a plan changes nothing, the journal included
    if journal is not None:
        journal.close()
    report_journal_errors(result.journal_errors, "plan")
    sys.stdout.write(render(result, args.output, detail=args.detail, color=opt.use_color(args, sys.stdout),
                            strict=args.strict, notes=found.notes, extra=found.extra()))
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
    return result.exit_code(args.strict)
