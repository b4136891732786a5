"""Options several commands share, each added only where it does something."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def default_journal() -> Path:
    """`$XDG_STATE_HOME/vsr/journal.db`, else `~/.local/state/vsr/journal.db` (the invoking user's)."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "vsr" / "journal.db"


def add_journal_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--journal", type=Path, default=Path(os.environ.get("VSR_JOURNAL") or default_journal()),
                        help=f"event journal, SQLite (env VSR_JOURNAL; default {default_journal()})")


def add_output_option(parser: argparse.ArgumentParser, choices: tuple[str, ...] = ("text", "json", "yaml"),
                      default: str = "text") -> None:
    parser.add_argument("-o", "--output", choices=choices, default=default,
                        help=f"output format, one of {', '.join(choices)} (default {default}; json is the stable "
                             "contract)")


def add_color_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-color", action="store_true",
                        help="no colour even on a terminal (also when NO_COLOR is set)")


def add_strict_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strict", action="store_true",
                        help="exit 2 also for unsupported, pending (power cycle) and waived fields")


def add_target_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-l", "--target", action="append", metavar="SELECTOR", default=None,
                        help="only these objects, policies or controls; globs, repeatable or comma-separated: "
                             "NAME, policy=NAME, control=ID (e.g. -l 'esx-0*' -l control=ESXI-*)")


def use_color(args: argparse.Namespace, stream: object) -> bool:
    """Colour only on a terminal, never with --no-color or NO_COLOR (any value, see no-color.org)."""
    if getattr(args, "no_color", False) or "NO_COLOR" in os.environ:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
