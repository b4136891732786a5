"""`vsr events`: query the event journal (text table or JSON lines), optionally following new events."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from typing import Any, TextIO

from reconciler.cli import COMMANDS
from reconciler.commands._options import add_journal_option
from reconciler.events.journal import Journal, JournalError, JournalMissing
from reconciler.events.model import StoredEvent
from reconciler.events.timeutil import parse_since
from reconciler.report.escape import console

FOLLOW_INTERVAL = 0.5


def _since(text: str) -> Any:
    try:
        return parse_since(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: Any, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "events", parents=[common], help=COMMANDS["events"],
        epilog="examples:\n  vsr events --since 1h --reason DriftDetected\n  vsr events -f -o json",
        description="Query the event journal. Events are aggregated: the same object, reason, field and message "
                    "is one event with a count and first/last seen times.")
    parser.add_argument("--since", type=_since, metavar="DUR",
                        help="only events last seen within DUR (30s, 10m, 2h, 7d) or since a time (RFC 3339)")
    parser.add_argument("--object", metavar="NAME", help="object name or moid (glob, case-insensitive)")
    parser.add_argument("--reason", metavar="R", action="append",
                        help="only these reasons (repeat or comma-separate), e.g. DriftDetected")
    parser.add_argument("--type", choices=("Normal", "Warning"), help="only Normal or Warning events")
    parser.add_argument("--vcenter", metavar="NAME", help="only events of this VCenter document")
    parser.add_argument("--limit", type=int, metavar="N", help="at most the N most recent events")
    parser.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text",
                        help="text table, JSON lines (one event per line) or YAML (one document per event)")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new and re-counted events")
    add_journal_option(parser)
    return parser


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    reasons = [r.strip() for item in (args.reason or []) for r in item.split(",") if r.strip()] or None
    filters = dict(object=args.object, reason=reasons, type=getattr(args, "type", None),
                   vcenter=getattr(args, "vcenter", None))
    printer = _Printer(out, args.output)
    journal = _open(args.journal, wait=args.follow)
    if journal is None:
        if args.output == "text":
            print("no events", file=out)
        return 0
    try:
        with journal:
            return _show(journal, args, printer, filters)
    except JournalError as exc:
        print(f"vsr events: {exc}", file=sys.stderr)
        return 1


def _show(journal: Journal, args: argparse.Namespace, printer: _Printer, filters: dict[str, Any]) -> int:
    start_seq = journal.last_seq()
    events = journal.query(since=args.since, limit=args.limit, **filters)
    if not events and args.output == "text" and not args.follow:
        print("no events", file=printer.out)
    printer.print(events)
    if not args.follow:
        return 0
    seq = max([start_seq, *(e.seq for e in events)])
    try:
        while True:
            time.sleep(FOLLOW_INTERVAL)
            new = journal.query(after_seq=seq, **filters)
            if new:
                printer.print(new)
                seq = max(e.seq for e in new)
    except KeyboardInterrupt:
        return 0


def _open(path: Any, wait: bool) -> Journal | None:
    while True:
        try:
            return Journal(path, create=False, readonly=True)  # never writes: works on a read-only journal
        except JournalMissing:
            if not wait:
                return None
            time.sleep(FOLLOW_INTERVAL)
        except JournalError as exc:
            raise SystemExit(f"vsr events: {exc}") from None  # one line, exit 1


class _Printer:
    COLUMNS = ("LAST SEEN", "TYPE", "REASON", "OBJECT", "PATH", "COUNT", "MESSAGE")

    def __init__(self, out: TextIO, fmt: str):
        self.out, self.fmt = out, fmt
        self.header_done = False

    def print(self, events: list[StoredEvent]) -> None:
        if not events:
            return
        if self.fmt == "json":
            for e in events:
                self.out.write(json.dumps(e.to_dict(), default=str, separators=(",", ":")) + "\n")
        elif self.fmt == "yaml":
            from reconciler.report.yaml_out import to_yaml

            for e in events:
                self.out.write("---\n" + to_yaml(e.to_dict()))
        else:
            self._table(events)
        self.out.flush()

    def _table(self, events: list[StoredEvent]) -> None:
        several_vcenters = len({e.event.object.vcenter for e in events}) > 1
        rows = [self._row(e, several_vcenters) for e in events]
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(self.COLUMNS)]
        widths[-1] = 0
        if not self.header_done:
            self.out.write(_line(self.COLUMNS, widths))
            self.header_done = True
        for row in rows:
            self.out.write(_line(row, widths))

    @staticmethod
    def _row(e: StoredEvent, with_vcenter: bool) -> tuple[str, ...]:
        o = e.event.object
        obj = f"{o.type}/{o.name or o.moid}"
        if with_vcenter and o.vcenter:
            obj = f"{o.vcenter}:{obj}"
        message = e.event.message
        if e.event.policy:
            message += f" [policy {e.event.policy}]"
        return tuple(console(c) for c in (_when(e.last_seen), e.event.type, e.event.reason, obj, e.event.path or "-",
                                          str(e.count), message))


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _line(cells: tuple[str, ...], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) if w else c for c, w in zip(cells, widths)).rstrip() + "\n"
