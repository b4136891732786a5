"""Opening the event journal for a command: a journal that cannot be opened ends the command with one line."""

from __future__ import annotations

import sys
from pathlib import Path

from reconciler.events.journal import Journal, JournalError


def open_journal(path: Path, command: str) -> Journal | None:
    """The journal at `path`, or None after printing `vsr COMMAND: <why>` on stderr (the caller exits 1)."""
    try:
        return Journal(path)
    except JournalError as exc:
        print(f"vsr {command}: {exc}", file=sys.stderr)
        return None


def report_journal_errors(errors: list[str], command: str) -> None:
    for error in errors[:1]:   # the first one says it; the rest are the same journal failing again
        print(f"vsr {command}: {error}", file=sys.stderr)
