"""`vsr apply PATH...`: converge once, read back, record events. Exit 0 converged, 2 drift remains, 1 error."""

from __future__ import annotations

import argparse
import sys

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.console import Console

from reconciler.commands._connection import add_connection_options, cli_connection
from reconciler.engine.runner import run_once
from reconciler.commands._journal import open_journal, report_journal_errors
from reconciler.report.plan_output import render_json, render_text


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = sub.add_parser("apply", parents=[common], help="converge the estate once", description=__doc__)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="spec files or directories")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--concurrency", type=int, default=8, help="objects changed at once per vCenter (default 8)")
    add_connection_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    if not args.yes and sys.stdin.isatty():
        answer = input("Apply the plan to the estate? Run `vsr plan` first to review it. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("aborted", file=sys.stderr)
            return 1
    console = Console(stderr=True)
    journal = open_journal(args.journal, "apply")
    if journal is None:
        return 1
    with journal, Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True, disable=not console.is_terminal) as progress:
        tasks: dict[str, int] = {}

        def on_progress(vcenter: str, done: int, total: int) -> None:
            if vcenter not in tasks:
                tasks[vcenter] = progress.add_task(f"applying on {vcenter}", total=total)
            progress.update(tasks[vcenter], completed=done)

        result = run_once(args.paths, apply=True, cli=cli_connection(args), journal=journal,
                          concurrency=max(1, args.concurrency), on_progress=on_progress)
    report_journal_errors(result.journal_errors, "apply")
    sys.stdout.write(render_json(result) if args.output == "json" else render_text(result, applied=True))
    return result.exit_code()
