"""`vsr validate PATH...`: schema and semantic checks of spec documents, no vSphere. Exit 0 valid, 1 invalid."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from reconciler.cli import COMMANDS
from reconciler.report.escape import console


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "validate", parents=[common], help=COMMANDS["validate"],
        epilog="examples:\n  vsr validate specs/\n  vsr validate -o json specs/ | jq .issues",
        description="Check spec files and directories: every problem is printed as "
                    "file:line:col: Kind/name: path: message. Exit 0 when valid (warnings allowed), 1 otherwise.")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="spec files or directories")
    parser.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text",
                        help="output format (default text)")
    return parser


def to_json(result: Any) -> dict[str, object]:
    """The `-o json` document."""
    return {
        "valid": result.ok,
        "documents": [{"kind": d.kind, "name": d.name, "file": d.source.file, "line": d.source.line,
                       "column": d.source.column} for d in result.documents],
        "errors": len(result.errors),
        "warnings": len(result.warnings),
        "issues": [i.to_dict() for i in result.issues],
    }


def run(args: argparse.Namespace) -> int:
    from reconciler.api import load_specs

    result = load_specs(args.paths)
    if args.log_level in ("debug", "info"):  # structlog costs start-up time; it is set up only at these levels
        import structlog

        structlog.get_logger("vsr.validate").info(
            "specs validated", files=len(result.files), documents=len(result.documents),
            errors=len(result.errors), warnings=len(result.warnings))
    if args.output == "json":
        print(json.dumps(to_json(result), indent=2, default=str))
    elif args.output == "yaml":
        from reconciler.report.yaml_out import to_yaml

        sys.stdout.write(to_yaml(to_json(result)))
    else:
        for issue in result.issues:
            print(console(issue) if issue.is_error else f"{console(issue)} (warning)")
        summary = (f"{len(result.documents)} valid document(s) in {len(result.files)} file(s), "
                   f"{len(result.errors)} error(s), {len(result.warnings)} warning(s)")
        print(summary, file=sys.stderr)
    return 0 if result.ok else 1
