"""`vsr schema`: the JSON Schema of the spec kinds (all kinds, one kind, or files written into a directory)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reconciler.api.models import KINDS
from reconciler.api.schema import (
    all_kinds_schema,
    kind_schema,
    render,
    stale_schemas,
    write_schemas,
)
from reconciler.cli import COMMANDS


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "schema", parents=[common], help=COMMANDS["schema"],
        description="Print the JSON Schema of all spec kinds (oneOf), or of one kind; --write DIR writes one file "
                    "per kind and vsr.schema.json; --check DIR fails when those files differ from the models.")
    parser.add_argument("--kind", choices=sorted(KINDS), help="only this kind")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, metavar="DIR", help="write the schema files into DIR")
    group.add_argument("--check", type=Path, metavar="DIR", help="exit 1 when DIR's schema files are stale")
    return parser


def run(args: argparse.Namespace) -> int:
    if args.write:
        for path in write_schemas(args.write):
            print(path)
        return 0
    if args.check:
        stale = stale_schemas(args.check)
        for name in stale:
            print(f"{args.check / name}: differs from the models; run `vsr schema --write {args.check}`",
                  file=sys.stderr)
        return 1 if stale else 0
    schema = kind_schema(args.kind) if args.kind else all_kinds_schema()
    sys.stdout.write(render(schema))
    return 0
