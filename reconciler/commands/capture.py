"""`vsr capture OBJECT PATH... [--baseline NAME|DIR|all]`: draft a HostSecurityPolicy / VMSecurityPolicy from a
reference host's or VM's live state ("extract from reference host"), for the fields of a baseline (`--baseline
scg-9`; `all`: every shipped baseline's fields) or, without --baseline, the fields the specs in PATH set. YAML a
person edits: each line names its control IDs; fields the object does not offer are listed as left out; no
secrets (a policy holds none, and credentials stay in the VCenter document). Reads vSphere as `vsr plan` does
(bulk reads; changes nothing); PATH gives the VCenter document (or use the connection options). The document
validates with `vsr validate`; narrow its selector, review it, then plan it against other objects."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path

from reconciler.cli import COMMANDS
from reconciler.commands import _options as opt
from reconciler.commands._connection import add_connection_options, cli_connection
from reconciler.commands._journal import open_journal, report_journal_errors
from reconciler.commands._planning import plan

TYPES = {"host": "HostSystem", "vm": "VirtualMachine"}


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = sub.add_parser("capture", parents=[common], help=COMMANDS["capture"], description=__doc__,
                            epilog="examples:\n  vsr capture esx-ref-01 specs/vcenter.yaml --baseline scg-9 "
                                   "--file specs/golden-host.yaml\n"
                                   "  vsr capture web-template specs/ --type vm --select 'web-*'")
    parser.add_argument("object", metavar="OBJECT", help="name of the reference host or VM")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="spec files or directories (the VCenter document; "
                        "without --baseline also the policies whose fields are captured)")
    parser.add_argument("--baseline", metavar="NAME|DIR",
                        help="capture the fields this baseline sets: a name under specs/baselines (scg-8, stig, "
                             "scg-9, stig-vcf9, home-esxi), a directory, or `all`")
    parser.add_argument("--type", choices=tuple(TYPES), help="the reference object's type when a host and a VM share "
                        "its name")
    parser.add_argument("--name", help="metadata.name of the drafted policy (default captured-OBJECT)")
    parser.add_argument("--select", action="append", default=None, metavar="GLOB",
                        help="the drafted policy's selector (host or VM name globs, repeatable; default OBJECT)")
    parser.add_argument("--enforcement", choices=("Enforce", "Audit"), default="Enforce",
                        help="the drafted policy's enforcement")
    parser.add_argument("--file", type=Path, metavar="F", help="write the document to F instead of standard output")
    opt.add_journal_option(parser)
    add_connection_options(parser)
    return parser


def baseline_dirs(spec: str) -> list[Path] | None:
    """The baseline directories `--baseline` names (None: not found)."""
    from reconciler.catalog import baselines

    given = Path(spec)
    if given.is_dir():
        return [given]
    roots = [Path.cwd() / "specs" / "baselines", Path(__file__).resolve().parents[2] / "specs" / "baselines"]
    for root in (r for r in roots if r.is_dir()):
        found = baselines.baseline_dirs(root)
        if spec == "all":
            return list(found.values())
        if spec in found:
            return [found[spec]]
    return None


def _filled_copy(directory: Path, into: Path) -> Path:
    """The baseline with its site parameters set to probe values (see reconciler.capture.PROBES)."""
    from reconciler.capture import DEFAULT_PROBE, PROBES
    from reconciler.catalog import baselines

    target = into / directory.name
    target.mkdir()
    for file in sorted(directory.glob("*.yaml")):
        text = file.read_text(encoding="utf-8")
        values = {n: PROBES.get(n, DEFAULT_PROBE) for n in baselines.placeholders(text)}
        (target / file.name).write_text(baselines.fill(text, values), encoding="utf-8")
    return target


def run(args: argparse.Namespace) -> int:
    from reconciler import capture
    from reconciler.catalog import baselines
    from reconciler.engine import targets
    from reconciler.engine.runner import load_pass
    from reconciler.report import model

    dirs = baseline_dirs(args.baseline) if args.baseline else []
    if dirs is None:
        print(f"error: --baseline {args.baseline}: no such baseline directory (specs/baselines/NAME, a directory, "
              "or all)", file=sys.stderr)
        return 1
    journal = open_journal(args.journal, "capture")
    if journal is None:
        return 1
    target = targets.parse([args.object])
    wanted = TYPES.get(args.type or "")
    found = capture.Captured()
    objects: set[tuple[str, str, str]] = set()
    code = 0
    with journal, tempfile.TemporaryDirectory(prefix="vsr-capture-") as tmp:
        passes: list[tuple[list[str], set[tuple[str, tuple[str, ...]]] | None]] = [
            (list(args.paths) + [str(_filled_copy(d, Path(tmp)))], baselines.baseline_fields(d)) for d in dirs]
        for paths, fields in passes or [(list(args.paths), None)]:
            with load_pass(paths, cli=cli_connection(args), journal=journal) as one:
                plan(one, target)
                result = one.result
            report_journal_errors(result.journal_errors, "capture")
            for error in [str(i) for i in result.spec_issues if i.is_error] + list(result.connection_errors):
                print(f"error: {error}", file=sys.stderr)
                code = 1
            rows = [r for r in model.build(result, target=target).rows if r.object.name == args.object
                    and r.object.type in capture.KINDS and (wanted is None or r.object.type == wanted)]
            objects |= {(r.object.vcenter, r.object.type, r.object.moid) for r in rows}
            if fields is not None:
                for row in rows:
                    row.fields = [f for f in row.fields if (row.object.type, f.path) in fields]
            part = capture.collect(rows)
            for path, value in part.values.items():
                found.values.setdefault(path, value)
                if path in part.notes:
                    found.notes.setdefault(path, part.notes[path])
            for path, why in part.left_out.items():
                found.left_out.setdefault(path, why)
    for path in found.values:
        found.left_out.pop(path, None)
    if len(objects) != 1:
        what = "no host or VM" if not objects else f"{len(objects)} objects ({', '.join(sorted(t for _, t, _ in objects))})"
        print(f"error: {what} named {args.object} selected by the policies"
              + (" (give --type host|vm)" if len(objects) > 1 else ""), file=sys.stderr)
        return 1
    (vcenter, object_type, moid), = objects
    capture.drop_invalid(found, object_type)
    source = f"the fields of baseline(s) {', '.join(d.name for d in dirs)}" if dirs else "the fields the specs set"
    text = capture.render(found, object_type, args.object, args.name or capture.policy_name(args.object),
                          args.select or [args.object], args.enforcement, source,
                          f"{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')} ({moid} in vCenter {vcenter})")
    if args.file is None:
        sys.stdout.write(text)
    else:
        args.file.parent.mkdir(parents=True, exist_ok=True)
        args.file.write_text(text, encoding="utf-8")
        print(f"{args.file}: {len(found.values)} field(s) of {object_type} {args.object}", file=sys.stderr)
    return code
