"""Opening the event journal for a command: a journal that cannot be opened ends the command with one line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from reconciler.events.journal import Journal, JournalError, JournalMissing


def open_journal(path: Path, command: str) -> Journal | None:
    """The journal at `path`, or None after printing `vsr COMMAND: <why>` on stderr (the caller exits 1)."""
    try:
        return Journal(path)
    except JournalError as exc:
        print(f"vsr {command}: {exc}", file=sys.stderr)
        return None


def open_readonly(path: Path, command: str) -> Journal | None | Literal[False]:
    """The journal opened read-only (never created nor written), None when there is none yet, or False after
    printing `vsr COMMAND: <why>` (the caller exits 1)."""
    try:
        return Journal(path, create=False, readonly=True)
    except JournalMissing:
        return None
    except JournalError as exc:
        print(f"vsr {command}: {exc}", file=sys.stderr)
        return False


def report_journal_errors(errors: list[str], command: str) -> None:
    for error in errors[:1]:   # the first one says it; the rest are the same journal failing again
        print(f"vsr {command}: {error}", file=sys.stderr)
