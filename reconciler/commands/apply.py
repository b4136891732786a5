"""`vsr apply PATH...` or `vsr apply FILE`: converge once, read back, record events.

Nothing is changed without consent: `--yes`, a `y` on a terminal after the plan is shown, or a saved plan
(`vsr plan PATH... --out FILE`, then `vsr apply FILE`, which applies exactly those changes and skips as stale any
whose live value moved). Without a terminal and without either, it refuses. If a document fails to load it
refuses too, unless `--allow-invalid`. Exit 0 converged, 2 drift remains, 1 error or refused."""

from __future__ import annotations

import argparse
import sys

from reconciler.cli import COMMANDS
from reconciler.commands import _options as opt
from reconciler.commands._connection import add_connection_options, cli_connection
from reconciler.commands._journal import open_journal, report_journal_errors
from reconciler.commands._planning import Planned, finish, parse_target, plan
from reconciler.commands._progress import Bars
from reconciler.engine import saved_plan
from reconciler.engine.runner import Pass, load_pass
from reconciler.engine.targets import Target
from reconciler.report.plan_output import render, render_text

NO_CONSENT = ("refusing to apply without consent: standard input is not a terminal; review with `vsr plan`, then "
              "pass --yes, or save the plan with `vsr plan PATH... --out FILE` and run `vsr apply FILE`")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = sub.add_parser("apply", parents=[common], help=COMMANDS["apply"], description=__doc__,
                            epilog="examples:\n  vsr apply specs/            shows the plan and asks\n"
                                   "  vsr apply specs/ --yes -l control=ESXI-80-000008\n"
                                   "  vsr plan specs/ --out plan.json && vsr apply plan.json")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="spec files or directories, or one saved plan from `vsr plan --out`")
    opt.add_output_option(parser)
    parser.add_argument("--yes", action="store_true", help="apply without asking")
    parser.add_argument("--allow-invalid", action="store_true",
                        help="apply the valid documents even if some fail to load")
    parser.add_argument("--concurrency", type=int, default=8, help="objects changed at once per vCenter (default 8)")
    parser.add_argument("--detail", action="store_true", help="list every object and field, not grouped")
    opt.add_target_option(parser)
    opt.add_strict_option(parser)
    opt.add_color_option(parser)
    opt.add_journal_option(parser)
    add_connection_options(parser)
    return parser


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _saved(paths: list[str]) -> saved_plan.SavedPlan | None:
    """The saved plan when `paths` is one; raises SavedPlanError for a broken one or one mixed with specs."""
    plans = [p for p in paths if saved_plan.sniff(p)]
    if not plans:
        return None
    if len(paths) > 1:
        raise saved_plan.SavedPlanError(f"{plans[0]}: a saved plan is applied on its own: vsr apply {plans[0]}")
    return saved_plan.load(plans[0])


def _valid_enough(one: Pass, allow_invalid: bool) -> bool:
    errors = one.result.spec_errors
    if not errors:
        return True
    if not allow_invalid:
        for issue in errors:
            _say(f"error: {issue}")
        _say(f"refusing to apply: {len(errors)} problem(s) in the specs (listed above); fix them, or pass "
             "--allow-invalid to apply only the documents that loaded")
        return False
    _say(f"warning: applying without the document(s) that failed to load ({len(errors)} problem(s), "
         "--allow-invalid)")
    return True


def _plan_saved(one: Pass, saved: saved_plan.SavedPlan, target: Target) -> Planned:
    """Re-plan the vCenters of the saved plan and leave actionable only its still-valid changes."""
    now = saved_plan.spec_revision(saved.spec_paths, one.result.documents)
    if now.get("digest") != saved.revision.get("digest"):
        _say(f"warning: the specs changed since the plan was saved ({saved_plan.describe_revision(saved.revision)}"
             f" -> {saved_plan.describe_revision(now)}); only the saved changes that are still valid are applied")
    settings = {s.name: s for s in one.settings}
    names = set()
    for name, vc in sorted(saved.vcenters.items()):
        setting = settings.get(name)
        if setting is None:
            one.result.connection_errors.append(f"{name}: in the saved plan but not in the specs now; not applied")
        elif setting.address != vc.server:
            one.result.connection_errors.append(f"{name}: the saved plan was made against {vc.server}, the "
                                                f"connection now goes to {setting.address}; not applied")
        else:
            names.add(name)
    one.plan(vcenters=names)
    for _, _, vplan in one.planned:
        vplan.plan.notes.extend(saved_plan.restrict(vplan, saved.vcenters[vplan.vcenter]))
    return finish(one, target)


def _consent(one: Pass, found: Planned, detail: bool, color: bool) -> bool:
    """Show the plan on the terminal and ask; True only for y/yes. Nothing to apply needs no question."""
    pending = [c for p in one.result.plans for c in p.plan.changes if c.actionable]
    if not pending:
        return True
    sys.stderr.write(render_text(one.result, detail=detail, color=color,
                                 notes=found.notes))
    objects = len({(c.object.vcenter, c.object.moid) for c in pending})
    sys.stderr.write(f"Apply these {len(pending)} change(s) to {objects} object(s)? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    target = parse_target(args)
    if target is None:
        return 1
    try:
        saved = _saved(args.paths)
    except saved_plan.SavedPlanError as exc:
        _say(f"error: {exc}")
        return 1
    if saved is None and not args.yes and not sys.stdin.isatty():
        _say(NO_CONSENT)
        return 1
    paths = saved.spec_paths if saved is not None else args.paths
    journal = open_journal(args.journal, "apply")
    if journal is None:
        return 1
    with journal, load_pass(paths, cli=cli_connection(args), journal=journal) as one, Bars() as bars:
        if not _valid_enough(one, args.allow_invalid):
            return 1
        if saved is not None:
            found = _plan_saved(one, saved, target)
        else:
            found = plan(one, target, bars)
            if not args.yes:
                bars.progress.stop()
                if not _consent(one, found, args.detail, opt.use_color(args, sys.stderr)):
                    _say("aborted: nothing was changed")
                    return 1
                bars.progress.start()
        one.apply(max(1, args.concurrency), bars.on_apply)
        result = one.result
    report_journal_errors(result.journal_errors, "apply")
    sys.stdout.write(render(result, args.output, applied=True, detail=args.detail,
                            color=opt.use_color(args, sys.stdout), strict=args.strict, notes=found.notes,
                            extra=found.extra()))
    return result.exit_code(args.strict)
